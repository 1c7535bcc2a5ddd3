namespace AiSystem.Integration.Tests.Infrastructure;

/// <summary>A Mosquitto broker of the test's own: its own config file, a free loopback port.</summary>
public sealed class Mosquitto : IAsyncDisposable
{
    private ChildProcess? _process;
    private readonly string _dir;
    private readonly string _binary;

    public int Port { get; }

    private Mosquitto(ChildProcess? process, string dir, string binary, int port)
    {
        _process = process;
        _dir = dir;
        _binary = binary;
        Port = port;
    }

    private string Config => Path.Combine(_dir, "mosquitto.conf");

    /// <summary>Kills the broker (as a crash would): every client loses its connection at once.</summary>
    public Task StopAsync() => _process?.DisposeAsync().AsTask() ?? Task.CompletedTask;

    /// <summary>A broker with its port and config chosen, not started yet (start it with <see cref="RestartAsync"/>).</summary>
    public static async Task<Mosquitto> PrepareAsync()
    {
        var binary = Binary();
        var port = FreePort.Next();
        var dir = Directory.CreateTempSubdirectory("aisystem-mosquitto-").FullName;
        await WriteConfigAsync(dir, port);
        return new Mosquitto(null, dir, binary, port);
    }

    /// <summary>Starts the broker (again) on its port, with nothing remembered.</summary>
    public async Task RestartAsync()
    {
        _process = ChildProcess.Start("mosquitto", _binary, ["-c", Config], _dir);
        var process = _process;
        await Poll.UntilAsync(() => FreePort.IsOpenAsync(Port), TimeSpan.FromSeconds(10), $"mosquitto on port {Port}", () => process.Tail());
    }

    public static async Task<Mosquitto> StartAsync()
    {
        var broker = await PrepareAsync();
        try
        {
            await broker.RestartAsync();
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
        return broker;
    }

    private static string Binary() =>
        new[] { "/usr/sbin/mosquitto", "/usr/bin/mosquitto" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("mosquitto is not installed (apt-get install mosquitto); ./test.sh installs it.");

    private static async Task<string> WriteConfigAsync(string dir, int port)
    {
        var conf = Path.Combine(dir, "mosquitto.conf");
        await File.WriteAllTextAsync(conf, $"""
            listener {port} 127.0.0.1
            allow_anonymous true
            persistence false
            set_tcp_nodelay true
            log_dest stdout
            log_type error
            log_type warning
            """);
        return conf;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null) await _process.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
