using System.Text.Json;
using AiSystem.Integration.Tests.Infrastructure;

namespace AiSystem.Integration.Tests;

/// <summary>
/// Two masters on different ports share one PostgreSQL journal; workers and browsers are spread over both. The
/// master holding the dispatcher singleton is killed mid-run: the other takes over from the journal, the browsers
/// of the dead master reconnect to the survivor, and every question is answered exactly once.
/// </summary>
public sealed class HighAvailabilityTests : IAsyncLifetime
{
    private Mosquitto _broker = null!;
    private Postgres _postgres = null!;
    private readonly List<MasterProcess> _masters = [];
    private readonly List<ChildProcess> _workers = [];
    private readonly List<ChatClient> _browsers = [];

    public async Task InitializeAsync()
    {
        _broker = await Mosquitto.StartAsync();
        _postgres = await Postgres.StartAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var b in _browsers) await b.DisposeAsync();
        foreach (var w in _workers) await w.DisposeAsync();
        foreach (var m in _masters) await m.DisposeAsync();
        await _postgres.DisposeAsync();
        await _broker.DisposeAsync();
    }

    private string Diagnostics() => string.Join('\n', _workers.Select(w => w.Tail(6)).Concat(_masters.Select(m => m.Process.Tail(25))));

    private async Task<ChatClient> ConnectWithRetryAsync(string baseUrl, string? sessionId)
    {
        ChatClient? client = null;
        await Poll.UntilAsync(async () =>
        {
            try { client = await ChatClient.ConnectAsync(baseUrl, sessionId); return true; }
            catch (Exception) { return false; }
        }, TimeSpan.FromSeconds(90), $"a session on {baseUrl}", Diagnostics);
        return client!;
    }

    /// <summary>
    /// Masters A and B on one PostgreSQL journal, A first (it holds the dispatcher), and two workers; returns once all
    /// four are up in the cluster. Two masters cannot tell a crash from a partition: keep-majority keeps the side with
    /// the lowest master address on a tie, so B, the survivor in these tests, gets the lower port (with three masters
    /// any one may die).
    /// </summary>
    private async Task<(MasterProcess A, MasterProcess B)> StartTwoMastersAsync(string workerDelay, int workerCapacity,
        Dictionary<string, string?>? more = null)
    {
        var (akkaB, akkaA) = (FreePort.Next(), FreePort.Next());
        if (akkaB > akkaA) (akkaA, akkaB) = (akkaB, akkaA);
        var seeds = $"akka.tcp://ai-system@localhost:{akkaA},akka.tcp://ai-system@localhost:{akkaB}";
        Dictionary<string, string?> Settings(int akkaPort)
        {
            var settings = new Dictionary<string, string?>
            {
                ["Akka__Port"] = akkaPort.ToString(),
                ["Akka__SeedNodes"] = seeds,
                ["Akka__DownUnreachableAfter"] = "00:00:05",
                ["Persistence__Provider"] = "postgresql",
                ["Persistence__ConnectionString"] = _postgres.ConnectionString,
            };
            foreach (var (k, v) in more ?? []) settings[k] = v;
            return settings;
        }
        var a = await MasterProcess.StartAsync(_broker, localWorkers: 0, Settings(akkaA));
        _masters.Add(a);
        await Poll.UntilAsync(async () => (await a.Http.GetAsync("/healthz/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "master A ready", Diagnostics);
        var b = await MasterProcess.StartAsync(_broker, localWorkers: 0, Settings(akkaB));
        _masters.Add(b);
        foreach (var id in new[] { "ha-worker-1", "ha-worker-2" })
            _workers.Add(a.StartWorker(id, new Dictionary<string, string?>
            {
                ["Akka__SeedNodes"] = seeds, ["Worker__SimulatedDelay"] = workerDelay, ["Worker__Capacity"] = workerCapacity.ToString(),
            }));
        await a.WaitForWorkersAsync(2);
        await Poll.UntilAsync(async () => JsonDocument.Parse(await b.Http.GetStringAsync("/api/cluster")).RootElement
            .GetProperty("members").EnumerateArray().Count(m => m.Str("status") == "up") == 4, TimeSpan.FromSeconds(60), "4 members up", Diagnostics);
        return (a, b);
    }

    [Fact]
    public async Task Killing_the_master_that_holds_the_dispatcher_loses_no_question_and_answers_none_twice()
    {
        var (a, b) = await StartTwoMastersAsync(workerDelay: "00:00:02", workerCapacity: 2,
            new Dictionary<string, string?> { ["Dispatch__TaskTimeout"] = "00:00:15" });

        // Three browsers on each master, four questions each.
        var onA = new List<ChatClient>();
        var onB = new List<ChatClient>();
        for (var i = 0; i < 3; i++)
        {
            onA.Add(await ConnectWithRetryAsync(a.BaseUrl, null));
            onB.Add(await ConnectWithRetryAsync(b.BaseUrl, null));
        }
        _browsers.AddRange(onB);
        var asked = new Dictionary<string, (string Session, string Query)>();
        for (var q = 0; q < 4; q++)
            foreach (var browser in onA.Concat(onB))
            {
                var query = $"HA question {q} of {browser.SessionId[..8]}";
                try { asked[(await browser.SubmitAsync(query)).Str("taskId")] = (browser.SessionId, query); }
                catch (Exception e) { throw new InvalidOperationException(e.Message + "\n" + Diagnostics(), e); }
            }
        await Poll.UntilAsync(() => onA.Concat(onB).Sum(x => x.Answers.Count) >= 3, TimeSpan.FromSeconds(30), "the first answers", Diagnostics);

        // A started first: it is the oldest master and holds the dispatcher singleton.
        a.Process.Kill();
        await a.Process.WaitForExitAsync(TimeSpan.FromSeconds(10));
        var answeredOnA = onA.SelectMany(x => x.Answers).Select(x => x.Str("taskId")).ToList();
        foreach (var x in onA) await x.DisposeAsync();

        // A's browsers reconnect to B with their sessions.
        var moved = new List<ChatClient>();
        foreach (var x in onA) moved.Add(await ConnectWithRetryAsync(b.BaseUrl, x.SessionId));
        _browsers.AddRange(moved);
        var historyAtMove = moved.SelectMany(m => m.Started.GetProperty("history").EnumerateArray())
            .Where(i => i.GetProperty("response").ValueKind == JsonValueKind.String).Select(i => i.Str("taskId")).ToHashSet();

        IEnumerable<string> Seen() => answeredOnA.Concat(historyAtMove).Concat(moved.Concat(onB).SelectMany(x => x.Answers).Select(x => x.Str("taskId")));
        await Poll.UntilAsync(() => Seen().Distinct().Count() == 24, TimeSpan.FromSeconds(150), "all 24 answers after the takeover", Diagnostics);

        var live = moved.Concat(onB).SelectMany(x => x.Answers).Select(x => x.Str("taskId")).ToList();
        Assert.Equal(live.Count, live.Distinct().Count());
        Assert.Empty(live.Intersect(answeredOnA));
        Assert.Empty(moved.SelectMany(x => x.Answers).Select(x => x.Str("taskId")).Intersect(historyAtMove));
        Assert.All(moved.Concat(onB), x => Assert.Empty(x.Payloads("TaskFailed")));
        Assert.Equal(asked.Keys.Order(), Seen().Distinct().Order());

        // The survivor now runs the dispatcher: it knows the workers and has nothing left over.
        Assert.Equal("[]", await b.Http.GetStringAsync("/api/tasks"));
        Assert.Equal(2, (await b.WorkersAsync()).Length);
    }

    [Fact]
    public async Task Answers_in_flight_when_the_dispatchers_master_dies_arrive_exactly_once_within_seconds_of_the_takeover()
    {
        // The task timeout stays at its default (2 min): nothing here waits for it.
        var (a, b) = await StartTwoMastersAsync(workerDelay: "00:00:06", workerCapacity: 5);

        // Ten questions from browsers on B, all of them on a worker at once; then A dies while the models write.
        var browsers = new List<ChatClient> { await ConnectWithRetryAsync(b.BaseUrl, null), await ConnectWithRetryAsync(b.BaseUrl, null) };
        _browsers.AddRange(browsers);
        var asked = new List<string>();
        for (var q = 0; q < 5; q++)
            foreach (var browser in browsers)
                asked.Add((await browser.SubmitAsync($"failover question {q} of {browser.SessionId[..8]}")).Str("taskId"));
        var inFlight = () => a.Http.GetStringAsync("/api/tasks").ContinueWith(t =>
            JsonDocument.Parse(t.Result).RootElement.EnumerateArray().Count(x => x.Str("state") == "in-flight"));
        await Poll.UntilAsync(async () => await inFlight() == 10, TimeSpan.FromSeconds(20), "ten answers in flight", Diagnostics);

        a.Process.Kill();
        await a.Process.WaitForExitAsync(TimeSpan.FromSeconds(10));
        var killedAt = DateTimeOffset.UtcNow;

        // The takeover: A is out of B's cluster and B's dispatcher answers (readiness asks it through the proxy).
        await Poll.UntilAsync(async () =>
        {
            var members = JsonDocument.Parse(await b.Http.GetStringAsync("/api/cluster")).RootElement.GetProperty("members").EnumerateArray();
            return !members.Any(m => m.Str("address") == a.ClusterAddress) && (await b.Http.GetAsync("/healthz/ready")).IsSuccessStatusCode;
        }, TimeSpan.FromSeconds(60), "B to take the dispatcher over", Diagnostics);
        var tookOverAt = DateTimeOffset.UtcNow;

        IEnumerable<string> Answered() => browsers.SelectMany(x => x.Answers).Select(x => x.Str("taskId"));
        await Poll.UntilAsync(() => Answered().Distinct().Count() == 10, TimeSpan.FromSeconds(10),
            $"all ten answers within 10 s of the takeover ({(tookOverAt - killedAt).TotalSeconds:F1} s after the kill)", Diagnostics);

        Assert.Equal(asked.Order(), Answered().Order()); // each exactly once, to its own session
        Assert.All(browsers, x => Assert.Empty(x.Payloads("TaskFailed")));
        // None ran twice: each result reached the new dispatcher (kept, or taken for its held question) before any
        // task went to a worker again. Counted from the workers' own "done" lines.
        var runs = asked.ToDictionary(id => id, id => _workers.Sum(w => w.Output.Split('\n').Count(l =>
            l.Contains($"Task {id} of session", StringComparison.Ordinal) && l.Contains(" done in ", StringComparison.Ordinal))));
        Console.WriteLine($"failover: takeover {(tookOverAt - killedAt).TotalSeconds:F1} s after the kill; runs per task: {string.Join(",", runs.Values)}");
        Assert.All(runs, r => Assert.True(r.Value == 1, $"task {r.Key} ran {r.Value} time(s)\n{Diagnostics()}"));
        await Poll.UntilAsync(async () => await b.Http.GetStringAsync("/api/tasks") == "[]", TimeSpan.FromSeconds(10), "no task left open", Diagnostics);
    }
}
