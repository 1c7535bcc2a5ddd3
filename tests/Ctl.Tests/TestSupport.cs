using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AiSystem.Ctl.Tests;

/// <summary>Canned answers in the shapes the master's /api gives.</summary>
internal static class Canned
{
    /// <summary>2025-11-27T16:13:20Z.</summary>
    public const long T0 = 1764260000000;

    public static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(T0 + 12_000);

    public const string Cluster = """
        {"self":"akka.tcp://ai-system@localhost:4053","leader":"akka.tcp://ai-system@localhost:4053","members":[
          {"address":"akka.tcp://ai-system@localhost:40123","roles":["worker"],"status":"up","reachability":"unreachable","appVersion":"0.1.0","upNumber":3},
          {"address":"akka.tcp://ai-system@localhost:4053","roles":["master"],"status":"up","reachability":"reachable","appVersion":"0.1.0","upNumber":1},
          {"address":"akka.tcp://ai-system@node-2:5000","roles":["worker","gpu"],"status":"joining","reachability":"reachable","appVersion":null,"upNumber":null}
        ]}
        """;

    public const string ClusterNoLeader = """{"self":"akka.tcp://ai-system@localhost:4053","leader":null,"members":[]}""";

    public const string Workers = """
        [{"id":"csharp-worker-1a2b3c4d","language":"CSharp","host":"node-2","status":"idle","reportedStatus":"idle","capacity":2,"activeTasks":0,"lastSeen":"2025-11-27T16:13:31.600+00:00","completed":7,"provider":"gemini","version":"0.1.0","clusterAddress":"akka.tcp://ai-system@localhost:40123"},
         {"id":"a-python-worker","language":"Python","host":"gpu-box-01","status":"busy","reportedStatus":"busy","capacity":1,"activeTasks":1,"lastSeen":"2025-11-27T16:10:20+00:00","completed":12345,"provider":"simulated","version":"1.0","clusterAddress":null}]
        """;

    public const string Tasks = """
        [{"taskId":"9c1d2e3f-0001","sessionId":"s1","state":"in-flight","workerId":"w1","attempt":1,"position":null,"assignedAt":"2025-11-27T16:13:25+00:00","timestamp":1764260000000},
         {"taskId":"9c1d2e3f-0002","sessionId":"s2","state":"queued","workerId":null,"attempt":0,"position":1,"assignedAt":null,"timestamp":1764260010000},
         {"taskId":"9c1d2e3f-0003","sessionId":"s3","state":"queued","workerId":null,"attempt":0,"position":2,"assignedAt":null,"timestamp":1764259880000}]
        """;

    public const string Journal = """
        {"provider":"sqlite","location":"aisystem.db","state":"ok","lastSuccessfulWrite":"2025-11-27T16:13:31.600+00:00","consecutiveFailedBatches":0,"rowsWaiting":0,"rowsWritten":1234,"batchesWritten":567,"snapshotsWritten":12,"lastError":null}
        """;

    public const string JournalFailing = """
        {"provider":"postgresql","location":"db-1/aisystem","state":"failing","lastSuccessfulWrite":"2025-11-27T16:10:20+00:00","consecutiveFailedBatches":3,"rowsWaiting":2,"rowsWritten":80,"batchesWritten":40,"snapshotsWritten":0,
         "lastError":{"type":"Npgsql.NpgsqlException","message":"Failed to connect to 10.0.0.5:5432","at":"2025-11-27T16:13:20+00:00"}}
        """;
}

/// <summary>A clock stopped at <see cref="Canned.Now"/>, in UTC.</summary>
internal sealed class FixedTime(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
}

/// <summary>Answers HTTP requests from a function and records them.</summary>
internal sealed class FakeMaster(Func<HttpRequestMessage, string?, HttpResponseMessage> answer) : HttpMessageHandler
{
    public List<(HttpMethod Method, string Path, string? Body, string? Authorization)> Requests { get; } = [];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
        lock (Requests) Requests.Add((request.Method, request.RequestUri!.AbsolutePath, body, request.Headers.Authorization?.ToString()));
        return answer(request, body);
    }

    public static HttpResponseMessage Json(HttpStatusCode status, string json) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    /// <summary>Serves fixed routes: path → JSON body with 200.</summary>
    public static FakeMaster Routes(params (string Path, string Json)[] routes) => new((request, _) =>
    {
        foreach (var (path, json) in routes)
            if (request.RequestUri!.AbsolutePath == path) return Json(HttpStatusCode.OK, json);
        return Json(HttpStatusCode.NotFound, """{"error":"not found"}""");
    });
}

/// <summary>Runs aictl in-process and captures what it prints.</summary>
internal static class Aictl
{
    public static async Task<(int Exit, string Out, string Err)> RunAsync(string[] args, HttpMessageHandler? handler = null,
        Dictionary<string, string>? env = null, CancellationToken ct = default)
    {
        // System.CommandLine localises its usage errors; the tests compare the English ones.
        System.Globalization.CultureInfo.CurrentUICulture = System.Globalization.CultureInfo.InvariantCulture;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var context = new CtlContext
        {
            Out = stdout,
            Error = stderr,
            HttpHandler = handler,
            GetEnvironmentVariable = name => env is not null && env.TryGetValue(name, out var v) ? v : null,
            Time = new FixedTime(Canned.Now),
            RequestTimeout = TimeSpan.FromSeconds(10),
        };
        var exit = await Cli.RunAsync(args, context, ct);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    public static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
}

internal static class FreePort
{
    public static int Get()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
