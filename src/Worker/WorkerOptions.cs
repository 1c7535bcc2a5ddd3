using AiSystem.Messages.Cluster;
using AiSystem.Messages.Mqtt;
using AiSystem.Messages.Tls;

namespace AiSystem.Worker;

/// <summary>The <c>Worker</c> section.</summary>
public sealed class WorkerOptions
{
    public const string Section = "Worker";

    /// <summary>Stable id on the wire; default <c>csharp-worker-{8 hex}</c>, new on every start.</summary>
    public string Id { get; set; } = "";
    public int Capacity { get; set; } = 1;
    public TimeSpan SimulatedDelay { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(2);
    public string Language { get; set; } = "CSharp";
    /// <summary>On SIGTERM, how long running tasks may take to finish before the worker leaves anyway.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>Port of the small HTTP endpoint with <c>/healthz/live</c> and <c>/healthz/ready</c>; 0 = none.</summary>
    public int HealthPort { get; set; }
    /// <summary>
    /// 0 (default): a worker outside the cluster keeps serving over MQTT. Above 0: once it has lost the cluster (removed,
    /// or no reachable master for this long) it drains and exits with code 75 so that its supervisor restarts it into
    /// the current cluster. The Swarm stack sets it.
    /// </summary>
    public TimeSpan ExitWithoutMasterAfter { get; set; }
    /// <summary>
    /// Comma-separated <c>host:port</c> gRPC endpoints of masters that may send tasks, besides the masters of the cluster
    /// (each announces its own). A task naming any other endpoint is dropped: its answer would go to a stranger.
    /// </summary>
    public string MasterEndpoints { get; set; } = "";

    public IReadOnlyList<string> MasterEndpointList =>
        MasterEndpoints.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public string EffectiveId => string.IsNullOrWhiteSpace(Id) ? _generatedId : Id;
    private readonly string _generatedId = $"csharp-worker-{Guid.NewGuid().ToString("N")[..8]}";
}

/// <summary>The <c>Llm</c> section: which model answers.</summary>
public sealed class LlmOptions
{
    public const string Section = "Llm";

    /// <summary><c>auto</c> (Gemini when a key is available, else simulated), <c>gemini</c> or <c>simulated</c>.</summary>
    public string Provider { get; set; } = "auto";
    public string Model { get; set; } = "gemini-2.5-flash";
    /// <summary>
    /// Models a task may name (<c>model</c>, comma-separated); by default only <see cref="Model"/>. A task naming any
    /// other fails at once: nobody who can publish a task spends the operator's key on a model of their choosing.
    /// </summary>
    public string AllowedModels { get; set; } = "";
    /// <summary>The models the master's page offers (<c>Llm__Models</c>, comma-separated): allowed here too.</summary>
    public string Models { get; set; } = "";

    private sealed record AllowedSet(string Allowed, string Offered, HashSet<string> Set);

    private AllowedSet? _allowed; // one reference: tasks on several threads see a whole set or none

    public bool Allows(string model)
    {
        if (string.Equals(model, Model, StringComparison.Ordinal)) return true;
        // Split once, not on every task (the settings are bound once; a change rebuilds it).
        var a = _allowed;
        if (a is null || !ReferenceEquals(a.Allowed, AllowedModels) || !ReferenceEquals(a.Offered, Models))
        {
            var set = new HashSet<string>(StringComparer.Ordinal);
            foreach (var list in new[] { AllowedModels, Models })
                set.UnionWith(list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            _allowed = a = new AllowedSet(AllowedModels, Models, set);
        }
        return a.Set.Contains(model);
    }
}

/// <summary>The <c>Gemini</c> section; the key comes from <c>GEMINI_API_KEY</c>.</summary>
public sealed class GeminiOptions
{
    public const string Section = "Gemini";
    public const string PublicBaseUrl = "https://generativelanguage.googleapis.com";

    public string BaseUrl { get; set; } = PublicBaseUrl;
    public string ApiKey { get; set; } = "";
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(90);
}

/// <summary>Everything the worker reads, bound and checked once at start.</summary>
/// <param name="Remoting">Akka remoting's certificate and CA when <c>Akka__Tls</c> is on.</param>
/// <param name="MasterCa"><c>Tls__CaFile</c>: what an <c>https://</c> master's certificate must chain to; null = the system's store.</param>
public sealed record WorkerSettings(WorkerOptions Worker, LlmOptions Llm, GeminiOptions Gemini, MqttOptions Mqtt, AkkaOptions Akka,
    RemotingTls? Remoting = null, TrustedCa? MasterCa = null)
{
    public static WorkerSettings Load(IConfiguration config)
    {
        var worker = config.GetSection(WorkerOptions.Section).Get<WorkerOptions>() ?? new WorkerOptions();
        var llm = config.GetSection(LlmOptions.Section).Get<LlmOptions>() ?? new LlmOptions();
        var gemini = config.GetSection(GeminiOptions.Section).Get<GeminiOptions>() ?? new GeminiOptions();
        var mqtt = config.GetSection(MqttOptions.Section).Get<MqttOptions>() ?? new MqttOptions();
        var akka = config.GetSection(AkkaOptions.Section).Get<AkkaOptions>() ?? new AkkaOptions();
        if (string.IsNullOrEmpty(gemini.ApiKey)) gemini.ApiKey = config["GEMINI_API_KEY"] ?? "";
        // A worker always needs a broker; by default the one a master on this machine embeds.
        if (string.IsNullOrWhiteSpace(mqtt.Host)) mqtt.Host = "localhost";

        var errors = new List<string>();
        if (worker.Capacity is < 1 or > 1024) errors.Add($"Worker__Capacity must be between 1 and 1024, got {worker.Capacity}.");
        if (worker.SimulatedDelay < TimeSpan.Zero) errors.Add($"Worker__SimulatedDelay must not be negative, got {worker.SimulatedDelay}.");
        if (worker.ShutdownTimeout < TimeSpan.Zero) errors.Add($"Worker__ShutdownTimeout must not be negative, got {worker.ShutdownTimeout}.");
        if (worker.HeartbeatInterval <= TimeSpan.Zero) errors.Add($"Worker__HeartbeatInterval must be positive, got {worker.HeartbeatInterval}.");
        if (worker.Id.Length > 100 || worker.Id.IndexOfAny(['/', '#', '+']) >= 0)
            errors.Add("Worker__Id must be at most 100 characters without '/', '#' or '+'.");
        if (llm.Provider is not ("auto" or "gemini" or "simulated"))
            errors.Add($"Llm__Provider must be auto, gemini or simulated, got '{llm.Provider}'.");
        if (!Uri.TryCreate(gemini.BaseUrl, UriKind.Absolute, out _))
            errors.Add($"Gemini__BaseUrl must be an absolute URL, got '{gemini.BaseUrl}'.");
        if (mqtt.Validate() is { } mqttError) errors.Add(mqttError);
        if (akka.Validate() is { } akkaError) errors.Add(akkaError);
        if (worker.ExitWithoutMasterAfter < TimeSpan.Zero) errors.Add($"Worker__ExitWithoutMasterAfter must not be negative, got {worker.ExitWithoutMasterAfter}.");
        if (worker.HealthPort is < 0 or > 65535) errors.Add($"Worker__HealthPort must be between 0 (off) and 65535, got {worker.HealthPort}.");
        RemotingTls? remoting = null;
        TrustedCa? masterCa = null;
        if (errors.Count == 0)
        {
            var tls = TlsOptions.From(config);
            try
            {
                MqttTls.From(mqtt);
                remoting = RemotingTls.Load(akka, tls);
                if (!string.IsNullOrWhiteSpace(tls.CaFile)) masterCa = TrustedCa.Load(tls.CaFile.Trim(), "Tls__CaFile");
            }
            catch (TlsSettingException e) { errors.Add(e.Message); }
        }
        if (errors.Count > 0) throw new InvalidOperationException("Invalid worker settings: " + string.Join(" ", errors));
        return new WorkerSettings(worker, llm, gemini, mqtt, akka, remoting, masterCa);
    }
}
