using System.Net.Http.Json;
using System.Text.Json;

namespace AiSystem.Integration.Tests.Infrastructure;

/// <summary>The master as a real process on free loopback ports, against a test broker or its embedded one.</summary>
public sealed class MasterProcess : IAsyncDisposable
{
    private readonly Dictionary<string, string?> _env;
    private readonly string _dataDir;

    public ChildProcess Process { get; private set; }
    public int HttpPort { get; }
    public int GrpcPort { get; }
    public int MqttPort { get; }
    public int AkkaPort { get; }
    public string ClusterAddress => $"akka.tcp://ai-system@localhost:{AkkaPort}";
    public string BaseUrl => $"http://127.0.0.1:{HttpPort}";
    public HttpClient Http { get; }
    /// <summary>The connection string of this master's journal (its own SQLite file, unless a test chose another).</summary>
    public string JournalConnectionString => _env["Persistence__ConnectionString"]!;

    private MasterProcess(ChildProcess process, Dictionary<string, string?> env, string dataDir, int httpPort, int grpcPort, int mqttPort, int akkaPort)
    {
        _env = env;
        _dataDir = dataDir;
        AkkaPort = akkaPort;
        Process = process;
        HttpPort = httpPort;
        GrpcPort = grpcPort;
        MqttPort = mqttPort;
        Http = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <param name="broker">null: the master starts its embedded broker on a free port.</param>
    public static async Task<MasterProcess> StartAsync(Mosquitto? broker, int localWorkers, IDictionary<string, string?>? settings = null)
    {
        var (env, dataDir, http, grpc, mqttPort) = Settings(broker, localWorkers, settings);
        var akka = int.Parse(env["Akka__Port"]!); // a test may choose it (several masters seeding each other)
        var process = ChildProcess.StartApp("master", "Master", env);
        var master = new MasterProcess(process, env, dataDir, http, grpc, mqttPort, akka);
        try
        {
            await master.WaitForWebAsync();
        }
        catch
        {
            await master.DisposeAsync();
            throw;
        }
        return master;
    }

    /// <summary>
    /// A master process that may not start at all (a test of its refusal): the same settings as <see cref="StartAsync"/>,
    /// without waiting for its web port. The caller disposes it (its journal folder, under the temp folder, stays).
    /// </summary>
    public static ChildProcess Launch(IDictionary<string, string?> settings) =>
        ChildProcess.StartApp("master", "Master", Settings(null, 0, settings).Env);

    private static (Dictionary<string, string?> Env, string DataDir, int Http, int Grpc, int MqttPort) Settings(Mosquitto? broker, int localWorkers,
        IDictionary<string, string?>? settings)
    {
        var (http, grpc, akka) = (FreePort.Next(), FreePort.Next(), FreePort.Next());
        var mqttPort = broker?.Port ?? FreePort.Next();
        // Every master of a test journals into its own SQLite file (kept across a restart of that master).
        var dataDir = Directory.CreateTempSubdirectory("aisystem-master-").FullName;
        var env = new Dictionary<string, string?>
        {
            ["Persistence__Provider"] = "sqlite",
            ["Persistence__ConnectionString"] = $"Data Source={Path.Combine(dataDir, "aisystem.db")}",
            ["Master__HttpPort"] = http.ToString(),
            ["Master__GrpcPort"] = grpc.ToString(),
            ["Master__PublicGrpcEndpoint"] = $"127.0.0.1:{grpc}",
            ["Master__LocalWorkers"] = localWorkers.ToString(),
            ["Mqtt__Host"] = broker is null ? "" : "127.0.0.1",
            ["Mqtt__Port"] = mqttPort.ToString(),
            ["Akka__Hostname"] = "localhost",
            ["Akka__Port"] = akka.ToString(),
            ["Worker__SimulatedDelay"] = "00:00:00.300",
            ["Worker__HeartbeatInterval"] = "00:00:01",
            ["GEMINI_API_KEY"] = "",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) env[k] = v;
        return (env, dataDir, http, grpc, mqttPort);
    }

    private Task WaitForWebAsync() =>
        Poll.UntilAsync(async () => (await Http.GetAsync("/")).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "the master's web port", () => Process.Tail());

    /// <summary>Starts the master again after it died: same ports, same settings, same journal.</summary>
    public async Task StartAgainAsync()
    {
        await Process.DisposeAsync();
        Process = ChildProcess.StartApp("master", "Master", _env);
        await WaitForWebAsync();
    }

    public async Task<JsonElement[]> WorkersAsync() =>
        await Http.GetFromJsonAsync<JsonElement[]>("/api/workers") ?? [];

    public Task WaitForWorkersAsync(int count, TimeSpan? timeout = null) =>
        Poll.UntilAsync(async () => (await WorkersAsync()).Length >= count, timeout ?? TimeSpan.FromSeconds(60),
            $"{count} registered worker(s)", () => Process.Tail());

    /// <summary>A worker process (src/Worker) against this master's broker, joining its cluster.</summary>
    public ChildProcess StartWorker(string name, IDictionary<string, string?>? settings = null)
    {
        var env = new Dictionary<string, string?>
        {
            ["Mqtt__Host"] = "127.0.0.1",
            ["Mqtt__Port"] = MqttPort.ToString(),
            ["Akka__Hostname"] = "localhost",
            ["Akka__Port"] = "0",
            ["Akka__SeedNodes"] = ClusterAddress,
            ["Worker__Id"] = name,
            ["Worker__SimulatedDelay"] = "00:00:00.300",
            ["Worker__HeartbeatInterval"] = "00:00:01",
            ["GEMINI_API_KEY"] = "",
            ["DOTNET_ENVIRONMENT"] = "Production",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) env[k] = v;
        return ChildProcess.StartApp(name, "Worker", env);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Process.DisposeAsync();
        try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { }
    }
}
