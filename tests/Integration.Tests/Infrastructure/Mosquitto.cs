namespace AiSystem.Integration.Tests.Infrastructure;

/// <summary>A Mosquitto broker of the test's own: its own config file, a free loopback port.</summary>
public sealed class Mosquitto : IAsyncDisposable
{
    private ChildProcess _process;
    private readonly string _dir;
    private readonly string _binary;

    public int Port { get; }

    private Mosquitto(ChildProcess process, string dir, string binary, int port)
    {
        _process = process;
        _dir = dir;
        _binary = binary;
        Port = port;
    }

    private string Config => Path.Combine(_dir, "mosquitto.conf");

    /// <summary>Kills the broker (as a crash would): every client loses its connection at once.</summary>
    public Task StopAsync() => _process.DisposeAsync().AsTask();

    /// <summary>Starts the broker again on the same port, with nothing remembered.</summary>
    public async Task RestartAsync()
    {
        _process = ChildProcess.Start("mosquitto", _binary, ["-c", Config], _dir);
        await Poll.UntilAsync(() => FreePort.IsOpenAsync(Port), TimeSpan.FromSeconds(10), $"mosquitto on port {Port} again", () => _process.Tail());
    }

    public static async Task<Mosquitto> StartAsync()
    {
        var binary = new[] { "/usr/sbin/mosquitto", "/usr/bin/mosquitto" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("mosquitto is not installed (apt-get install mosquitto); ./test.sh installs it.");
        var port = FreePort.Next();
        var dir = Directory.CreateTempSubdirectory("aisystem-mosquitto-").FullName;
        var conf = Path.Combine(dir, "mosquitto.conf");
        await File.WriteAllTextAsync(conf, $"""
            listener {port} 127.0.0.1
            allow_anonymous true
            persistence false
            log_dest stdout
            log_type error
            log_type warning
            """);
        var process = ChildProcess.Start("mosquitto", binary, ["-c", conf], dir);
        var broker = new Mosquitto(process, dir, binary, port);
        try
        {
            await Poll.UntilAsync(() => FreePort.IsOpenAsync(port), TimeSpan.FromSeconds(10), $"mosquitto on port {port}", () => process.Tail());
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
        return broker;
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
