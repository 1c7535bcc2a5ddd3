namespace AiSystem.Integration.Tests.Infrastructure;

/// <summary>A Mosquitto broker of the test's own: its own config file, a free loopback port.</summary>
public sealed class Mosquitto : IAsyncDisposable
{
    private readonly ChildProcess _process;
    private readonly string _dir;

    public int Port { get; }

    private Mosquitto(ChildProcess process, string dir, int port)
    {
        _process = process;
        _dir = dir;
        Port = port;
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
        var broker = new Mosquitto(process, dir, port);
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
