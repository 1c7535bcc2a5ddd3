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
