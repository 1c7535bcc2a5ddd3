namespace AiSystem.Integration.Tests.Infrastructure;

/// <summary>A private PostgreSQL server of the test's own (initdb + pg_ctl as the postgres user, a free loopback port).</summary>
public sealed class Postgres : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _dir;

    public int Port { get; }
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=aisystem;Pooling=true";

    private Postgres(string bin, string dir, int port)
    {
        _bin = bin;
        _dir = dir;
        Port = port;
    }

    public static async Task<Postgres> StartAsync()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")))
            : null;
        if (bin is null) throw new InvalidOperationException("PostgreSQL is not installed (apt-get install postgresql); ./test.sh installs it.");
        var dir = Directory.CreateTempSubdirectory("aisystem-pg-").FullName;
        var server = new Postgres(bin, dir, FreePort.Next());
        try
        {
            await RunAsync("chown", "-R", "postgres:postgres", dir);
            await server.AsPostgresAsync("initdb", "-D", Path.Combine(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync");
            await server.AsPostgresAsync("pg_ctl", "-D", Path.Combine(dir, "data"), "-l", Path.Combine(dir, "server.log"), "-w",
                "-o", $"-p {server.Port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start");
            await RunAsync(Path.Combine(bin, "createdb"), "-h", "127.0.0.1", "-p", server.Port.ToString(), "-U", "postgres", "aisystem");
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>Stops the server at once, as a crash would (<c>pg_ctl stop -m immediate</c>).</summary>
    public Task StopAsync() => AsPostgresAsync("pg_ctl", "-D", Path.Combine(_dir, "data"), "-m", "immediate", "stop");

    /// <summary>Starts it again on the same data and port.</summary>
    public Task StartAgainAsync() => AsPostgresAsync("pg_ctl", "-D", Path.Combine(_dir, "data"), "-l", Path.Combine(_dir, "server.log"), "-w",
        "-o", $"-p {Port} -k {_dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start");

    private Task AsPostgresAsync(string tool, params string[] args) =>
        RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(_bin, tool), .. args]);

    private static async Task RunAsync(string file, params string[] args)
    {
        await using var p = ChildProcess.Start(Path.GetFileName(file), file, args, Path.GetTempPath());
        if (!await p.WaitForExitAsync(TimeSpan.FromSeconds(60)) || p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed\n{p.Tail()}");
    }

    public async ValueTask DisposeAsync()
    {
        try { await AsPostgresAsync("pg_ctl", "-D", Path.Combine(_dir, "data"), "-m", "immediate", "stop"); }
        catch (InvalidOperationException) { /* not running */ }
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
