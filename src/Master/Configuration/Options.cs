using System.ComponentModel.DataAnnotations;

namespace AiSystem.Master.Configuration;

/// <summary>The <c>Master</c> section: ports and in-process workers.</summary>
public sealed class MasterOptions
{
    public const string Section = "Master";

    [Range(0, 65535)] public int HttpPort { get; set; } = 8888;
    [Range(1, 65535)] public int GrpcPort { get; set; } = 50051;
    /// <summary>
    /// <c>host:port</c> (or a URL) that workers use to send results; default <c>localhost:{GrpcPort}</c>. Without a
    /// scheme it is <c>http</c>, or <c>https</c> with <see cref="Https"/>.
    /// </summary>
    public string PublicGrpcEndpoint { get; set; } = "";
    /// <summary>
    /// Serve the web port and the gRPC port over HTTPS only, with <c>Tls__CertificatePath</c>. Off by default (loopback);
    /// on in the Swarm stack.
    /// </summary>
    public bool Https { get; set; }
    [Range(0, 64)] public int LocalWorkers { get; set; } = 2;
    /// <summary>On shutdown, how long the master waits for in-flight tasks to be answered.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(20);

    public string EffectivePublicGrpcEndpoint
    {
        get
        {
            var endpoint = string.IsNullOrWhiteSpace(PublicGrpcEndpoint) ? $"localhost:{GrpcPort}" : PublicGrpcEndpoint.Trim();
            // Workers take an endpoint without a scheme as plain http (the original protocol's host:port).
            return Https && !endpoint.Contains("://", StringComparison.Ordinal) ? "https://" + endpoint : endpoint;
        }
    }
}

/// <summary>The <c>Security</c> section: explicit exceptions to "closed by default" (see <see cref="ListenPolicy"/>).</summary>
public sealed class SecurityOptions
{
    public const string Section = "Security";

    /// <summary>Listen for workers beyond loopback without MQTT credentials (an operator's explicit choice).</summary>
    public bool AllowAnonymousWorkers { get; set; }
}

/// <summary>The <c>Dispatch</c> section.</summary>
public sealed class DispatchOptions
{
    public const string Section = "Dispatch";

    public TimeSpan TaskTimeout { get; set; } = TimeSpan.FromMinutes(2);
    [Range(1, 100)] public int MaxAttempts { get; set; } = 3;
}

/// <summary>The <c>Limits</c> section: what one question and the queue may hold.</summary>
public sealed class LimitsOptions
{
    public const string Section = "Limits";

    [Range(1, 1_000_000)] public int MaxQueryChars { get; set; } = 8000;
    [Range(0, 10_000_000)] public int MaxQueuedTasks { get; set; } = 10_000;
    /// <summary>Questions one session may send in any minute.</summary>
    [Range(1, 1_000_000)] public int MaxQueriesPerMinute { get; set; } = 30;
    /// <summary>New hub connections (each may start a session) from one IP address in any minute.</summary>
    [Range(1, 1_000_000)] public int ConnectionsPerIpPerMinute { get; set; } = 60;
    /// <summary>Questions from one IP address in any minute, over all its sessions.</summary>
    [Range(1, 1_000_000)] public int QueriesPerIpPerMinute { get; set; } = 120;
    /// <summary>Questions without a key of their own (answered on the operator's key) from one IP address in any day.</summary>
    [Range(1, 100_000_000)] public int ServerKeyQueriesPerIpPerDay { get; set; } = 1000;
    /// <summary>
    /// Whether the per-address limits also count loopback clients. Off by default: on loopback are the operator's own
    /// tools and benchmarks (a reverse proxy on the same machine would make every user one address anyway).
    /// </summary>
    public bool LimitLoopback { get; set; }
}

/// <summary>The <c>Sessions</c> section.</summary>
public sealed class SessionsOptions
{
    public const string Section = "Sessions";

    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(30);
    /// <summary>Questions (with their outcomes) a session keeps; older finished ones are dropped.</summary>
    [Range(1, 100_000)] public int MaxHistory { get; set; } = 200;
}

/// <summary>The <c>Chat</c> section: what each question takes along to the model.</summary>
public sealed class ChatOptions
{
    public const string Section = "Chat";

    /// <summary>
    /// The most characters a task carries: the question and the turns before it (oldest dropped first). About 6,000
    /// tokens in English, well inside every Gemini window, and small enough for the broker's 256 KB message limit
    /// even when every character is escaped. A question longer than this is refused.
    /// </summary>
    [Range(100, 1_000_000)] public int ContextChars { get; set; } = 24_000;
    /// <summary>The most earlier exchanges (a question and its answer) a task carries; 0: none, each question alone.</summary>
    [Range(0, 1_000)] public int ContextTurns { get; set; } = 20;
    /// <summary>An optional system instruction sent with every question (Gemini's <c>systemInstruction</c>).</summary>
    public string SystemPrompt { get; set; } = "";
}

/// <summary>The master's view of the <c>Llm</c> section: which models the page may choose from.</summary>
public sealed class ModelListOptions
{
    public const string Section = "Llm";

    /// <summary>
    /// The models a user may choose, comma-separated; the first is the default. Empty: no choice, every worker answers
    /// with its own <c>Llm__Model</c>. Workers also accept every model named here.
    /// </summary>
    public string Models { get; set; } = "";

    public IReadOnlyList<string> List =>
        [.. Models.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal)];
}

/// <summary>The <c>Persistence</c> section: where sessions and the dispatcher journal their events.</summary>
public sealed class PersistenceOptions
{
    public const string Section = "Persistence";

    /// <summary><c>sqlite</c> (an embedded file, the default) or <c>postgresql</c>.</summary>
    public string Provider { get; set; } = "sqlite";
    /// <summary>Default for SQLite: <c>Data Source=data/aisystem.db</c> under the master's content root.</summary>
    public string ConnectionString { get; set; } = "";
    /// <summary>PostgreSQL only: the password, kept out of the connection string (in Swarm: a Docker secret).</summary>
    public string Password { get; set; } = "";
}
