using System.Diagnostics;
using System.Text.Json;
using HdrHistogram;
using Microsoft.AspNetCore.SignalR.Client;

// Plays browsers against a running master and measures end-to-end answer latency (SubmitQuery sent → AiResponse
// received) and throughput. Usage:
//   LoadGen latency    --master URL --count N
//   LoadGen throughput --master URL --browsers B --seconds S
var scenario = args.Length > 0 ? args[0] : "latency";
string Arg(string name, string fallback)
{
    var i = Array.IndexOf(args, "--" + name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
var master = Arg("master", "http://127.0.0.1:8888");

var result = scenario switch
{
    "latency" => await Latency(master, int.Parse(Arg("count", "2000"))),
    "throughput" => await Throughput(master, int.Parse(Arg("browsers", "200")), int.Parse(Arg("seconds", "30"))),
    _ => throw new ArgumentException($"unknown scenario '{scenario}': latency or throughput"),
};
Console.WriteLine(JsonSerializer.Serialize(result));

static async Task<Browser> ConnectAsync(string master)
{
    var b = new Browser(new HubConnectionBuilder().WithUrl($"{master}/hubs/chat").Build());
    await b.StartAsync();
    return b;
}

static async Task<Dictionary<string, object>> Latency(string master, int count)
{
    await using var browser = await ConnectAsync(master);
    for (var i = 0; i < Math.Min(50, count); i++) await browser.AskAsync($"warm-up {i}"); // JIT, pools, first journal writes
    var histogram = new LongHistogram(TimeStamp.Seconds(60), 3);
    var total = Stopwatch.StartNew();
    for (var i = 0; i < count; i++)
    {
        var ticks = await browser.AskAsync($"latency question {i}");
        histogram.RecordValue(ticks);
        if (i % 500 == 499) Console.Error.WriteLine($"  {i + 1}/{count} answered");
    }
    return Summary("latency", histogram, count, total.Elapsed);
}

static async Task<Dictionary<string, object>> Throughput(string master, int browsers, int seconds)
{
    var clients = new List<Browser>();
    for (var i = 0; i < browsers; i++) clients.Add(await ConnectAsync(master));
    var histogram = new LongConcurrentHistogram(1, TimeStamp.Seconds(60), 3);
    var answered = 0L;
    var end = DateTime.UtcNow.AddSeconds(seconds);
    var total = Stopwatch.StartNew();
    var progress = Task.Run(async () =>
    {
        while (DateTime.UtcNow < end)
        {
            await Task.Delay(5000);
            Console.Error.WriteLine($"  {Interlocked.Read(ref answered)} answered after {total.Elapsed.TotalSeconds:0} s");
        }
    });
    await Task.WhenAll(clients.Select(async (c, n) =>
    {
        for (var i = 0; DateTime.UtcNow < end; i++)
        {
            histogram.RecordValue(await c.AskAsync($"browser {n} question {i}"));
            Interlocked.Increment(ref answered);
        }
    }));
    var elapsed = total.Elapsed;
    await progress;
    foreach (var c in clients) await c.DisposeAsync();
    var summary = Summary("throughput", histogram, answered, elapsed);
    summary["browsers"] = browsers;
    summary["answers_per_second"] = Math.Round(answered / elapsed.TotalSeconds, 1);
    return summary;
}

static Dictionary<string, object> Summary(string scenario, HistogramBase h, long count, TimeSpan elapsed)
{
    static double ToMs(long ticks) => Math.Round(ticks * 1000.0 / Stopwatch.Frequency, 3);
    double Ms(double percentile) => ToMs(h.GetValueAtPercentile(percentile));
    return new Dictionary<string, object>
    {
        ["scenario"] = scenario,
        ["answers"] = count,
        ["seconds"] = Math.Round(elapsed.TotalSeconds, 1),
        ["p50_ms"] = Ms(50),
        ["p90_ms"] = Ms(90),
        ["p99_ms"] = Ms(99),
        ["p999_ms"] = Ms(99.9),
        ["max_ms"] = ToMs(h.GetMaxValue()),
    };
}

/// <summary>One browser: asks, and waits for the answer to that very task.</summary>
sealed class Browser(HubConnection connection) : IAsyncDisposable
{
    private readonly Dictionary<string, TaskCompletionSource> _waiting = [];
    private readonly HashSet<string> _early = [];
    private readonly object _gate = new();

    public async Task StartAsync()
    {
        connection.On<JsonElement>("AiResponse", r => Complete(r.GetProperty("taskId").GetString()!));
        connection.On<JsonElement>("TaskFailed", r => Complete(r.GetProperty("taskId").GetString()!));
        await connection.StartAsync();
    }

    private void Complete(string taskId)
    {
        lock (_gate)
        {
            if (_waiting.Remove(taskId, out var tcs)) tcs.TrySetResult();
            else _early.Add(taskId); // the answer came before SubmitQuery returned
        }
    }

    /// <returns>Stopwatch ticks from sending the question to receiving its answer.</returns>
    public async Task<long> AskAsync(string query)
    {
        var start = Stopwatch.GetTimestamp();
        var reply = await connection.InvokeAsync<JsonElement>("SubmitQuery", new { query, apiKey = "" });
        var taskId = reply.GetProperty("taskId").GetString()!;
        Task wait;
        lock (_gate)
        {
            if (_early.Remove(taskId)) wait = Task.CompletedTask;
            else
            {
                var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting[taskId] = tcs;
                wait = tcs.Task;
            }
        }
        await wait.WaitAsync(TimeSpan.FromSeconds(60));
        return Stopwatch.GetTimestamp() - start;
    }

    public ValueTask DisposeAsync() => connection.DisposeAsync();
}
