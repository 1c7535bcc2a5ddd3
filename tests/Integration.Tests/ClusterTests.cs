using System.Text.Json;
using AiSystem.Integration.Tests.Infrastructure;

namespace AiSystem.Integration.Tests;

/// <summary>
/// One Akka.NET cluster you can see into: master and worker processes are members, and <c>aictl</c> (run as a real
/// process) shows and changes it. Plus the operator API's token, health checks and metrics.
/// </summary>
public sealed class ClusterTests : IAsyncLifetime
{
    private Mosquitto _broker = null!;
    private MasterProcess? _master;
    private readonly Dictionary<string, ChildProcess> _workers = [];
    private readonly List<ChatClient> _browsers = [];

    public async Task InitializeAsync() => _broker = await Mosquitto.PrepareAsync();

    public async Task DisposeAsync()
    {
        foreach (var b in _browsers) await b.DisposeAsync();
        foreach (var w in _workers.Values) await w.DisposeAsync();
        if (_master is not null) await _master.DisposeAsync();
        await _broker.DisposeAsync();
    }

    private async Task StartAsync(IDictionary<string, string?>? settings = null, string workerDelay = "00:00:04")
    {
        await _broker.RestartAsync();
        _master = await MasterProcess.StartAsync(_broker, localWorkers: 0, settings);
        foreach (var id in new[] { "cluster-worker-a", "cluster-worker-b" })
            _workers[id] = _master.StartWorker(id, new Dictionary<string, string?> { ["Worker__SimulatedDelay"] = workerDelay });
        await _master.WaitForWorkersAsync(2);
        await WaitForMembersAsync(3, "up");
    }

    private string[] Ctl(params string[] args) => [.. args, "--master", _master!.BaseUrl];

    private async Task<JsonElement[]> MembersAsync() =>
        JsonDocument.Parse(await _master!.Http.GetStringAsync("/api/cluster")).RootElement.GetProperty("members").EnumerateArray().ToArray();

    private Task WaitForMembersAsync(int count, string status) =>
        Poll.UntilAsync(async () => (await MembersAsync()).Count(m => m.Str("status") == status) == count && (await MembersAsync()).Length == count,
            TimeSpan.FromSeconds(60), $"{count} cluster members {status}", Diagnostics);

    private async Task<string> ClusterAddressOf(string workerId) =>
        (await _master!.WorkersAsync()).Single(w => w.Str("id") == workerId).Str("clusterAddress");

    private string Diagnostics() => string.Join('\n', _workers.Values.Select(w => w.Tail(8)).Append(_master!.Process.Tail(30)));

    private async Task<(ChatClient Browser, string TaskId, string WorkerId)> AskAndWaitForAssignmentAsync(string question)
    {
        var browser = await ChatClient.ConnectAsync(_master!.BaseUrl);
        _browsers.Add(browser);
        var taskId = (await browser.SubmitAsync(question)).Str("taskId");
        await Poll.UntilAsync(() => browser.Payloads("TaskAssigned").Count == 1, TimeSpan.FromSeconds(10), "the assignment");
        return (browser, taskId, browser.Payloads("TaskAssigned")[0].Str("workerId"));
    }

    [Fact]
    public async Task A_master_and_two_workers_form_one_cluster_that_aictl_shows()
    {
        await StartAsync();

        var show = await Aictl.RunAsync(Ctl("cluster", "show"));
        Assert.True(show.ExitCode == 0, show.Output);
        var memberLines = show.Lines.Where(l => l.StartsWith("akka.tcp://ai-system@")).ToList();
        Assert.Equal(3, memberLines.Count);
        // A master's roles: its gRPC endpoint for results (grpc=host:port), and master.
        Assert.Single(memberLines, l => l.Contains("[grpc=") && l.Contains("master]") && l.Contains("| up |") && l.Contains("reachable"));
        Assert.Equal(2, memberLines.Count(l => l.Contains("[worker]") && l.Contains("| up |")));
        Assert.Contains(_master!.ClusterAddress, show.Output);
        foreach (var id in _workers.Keys) Assert.Contains(await ClusterAddressOf(id), show.Output);
        Assert.Contains("Count: 3 nodes", show.Output);

        var leader = await Aictl.RunAsync(Ctl("cluster", "leader"));
        Assert.Equal(0, leader.ExitCode);
        Assert.Contains("akka.tcp://ai-system@localhost:", leader.Output);

        var workers = await Aictl.RunAsync(Ctl("workers"));
        Assert.Equal(0, workers.ExitCode);
        foreach (var id in _workers.Keys)
            Assert.Single(workers.Lines, l => l.StartsWith(id) && l.Contains("idle") && l.Contains("0/1"));

        var (_, taskId, workerId) = await AskAndWaitForAssignmentAsync("Am I visible to the operator?");
        var tasks = await Aictl.RunAsync(Ctl("tasks"));
        Assert.Equal(0, tasks.ExitCode);
        Assert.Single(tasks.Lines, l => l.Contains(taskId) && l.Contains("in-flight") && l.Contains(workerId));

        var json = await Aictl.RunAsync(Ctl("tasks", "--json"));
        Assert.Equal(taskId, JsonDocument.Parse(json.Output).RootElement.EnumerateArray().Single().Str("taskId"));
    }

    [Fact]
    public async Task A_worker_asked_to_leave_leaves_and_its_task_is_answered_by_the_other()
    {
        await StartAsync();
        var tail = Aictl.Start(Ctl("cluster", "tail"));
        try
        {
            var (browser, taskId, workerId) = await AskAndWaitForAssignmentAsync("Who answers me after the leave?");
            var address = await ClusterAddressOf(workerId);

            var leave = await Aictl.RunAsync(Ctl("cluster", "leave", address));
            Assert.True(leave.ExitCode == 0, leave.Output);

            await Poll.UntilAsync(() => browser.Answers.Count == 1, TimeSpan.FromSeconds(60), "the answer from the other worker", Diagnostics);
            Assert.NotEqual(workerId, browser.Answers[0].Str("workerId"));
            Assert.Equal(taskId, browser.Answers[0].Str("taskId"));
            await WaitForMembersAsync(2, "up");
            Assert.True(await _workers[workerId].WaitForExitAsync(TimeSpan.FromSeconds(30)), "the worker that left did not stop");

            var show = await Aictl.RunAsync(Ctl("cluster", "show"));
            Assert.Contains("Count: 2 nodes", show.Output);
            Assert.DoesNotContain(address, show.Output);
            // The tail saw it happen.
            await Poll.UntilAsync(() => tail.CountLines("member-removed") > 0 && tail.CountLines(address) >= 2, TimeSpan.FromSeconds(10),
                "membership events in aictl cluster tail", () => tail.Tail());
        }
        finally
        {
            await tail.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_killed_worker_shows_unreachable_and_down_unreachable_removes_it_after_its_task_went_elsewhere()
    {
        // The split brain resolver would down it by itself later; here the operator does it first.
        await StartAsync(new Dictionary<string, string?> { ["Akka__DownUnreachableAfter"] = "00:02:00" });
        var (browser, _, workerId) = await AskAndWaitForAssignmentAsync("Will I survive a SIGKILL?");
        var address = await ClusterAddressOf(workerId);

        _workers[workerId].Kill();

        await Poll.UntilAsync(() => browser.Answers.Count == 1, TimeSpan.FromSeconds(60), "the answer from the other worker", Diagnostics);
        Assert.NotEqual(workerId, browser.Answers[0].Str("workerId"));
        await Poll.UntilAsync(async () => (await Aictl.RunAsync(Ctl("cluster", "show"))).Lines.Any(l => l.Contains(address) && l.Contains("unreachable")),
            TimeSpan.FromSeconds(60), "the killed worker to show unreachable", Diagnostics);

        var down = await Aictl.RunAsync(Ctl("cluster", "down-unreachable"));
        Assert.True(down.ExitCode == 0, down.Output);
        Assert.Contains(address, down.Output);

        await WaitForMembersAsync(2, "up");
        var show = await Aictl.RunAsync(Ctl("cluster", "show"));
        Assert.DoesNotContain(address, show.Output);
        Assert.Contains("Count: 2 nodes", show.Output);
    }

    [Fact]
    public async Task The_api_wants_its_token_readiness_waits_for_the_broker_and_the_metrics_count_answers()
    {
        const string token = "operator-token-5b1e";
        _master = await MasterProcess.StartAsync(_broker, localWorkers: 0, new Dictionary<string, string?> { ["Admin__Token"] = token });

        // The broker is not running yet: alive, but not ready.
        Assert.Equal(200, (int)(await _master.Http.GetAsync("/healthz/live")).StatusCode);
        var notReady = await _master.Http.GetAsync("/healthz/ready");
        Assert.Equal(503, (int)notReady.StatusCode);
        await _broker.RestartAsync();
        await Poll.UntilAsync(async () => (await _master.Http.GetAsync("/healthz/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(30),
            "readiness once the broker is up", Diagnostics);

        Assert.Equal(401, (int)(await _master.Http.GetAsync("/api/workers")).StatusCode);
        var refused = await Aictl.RunAsync(Ctl("workers"));
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("token", refused.Output);
        var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/cluster") { Headers = { { "Authorization", "Bearer nope" } } };
        Assert.Equal(401, (int)(await _master.Http.SendAsync(wrong)).StatusCode);
        var allowed = await Aictl.RunAsync([.. Ctl("cluster", "show"), "--token", token]);
        Assert.True(allowed.ExitCode == 0, allowed.Output);
        Assert.Contains("Count: 1 nodes", allowed.Output);

        var workerHealthPort = FreePort.Next();
        _workers["metrics-worker"] = _master.StartWorker("metrics-worker", new Dictionary<string, string?>
        {
            ["Worker__SimulatedDelay"] = "00:00:00.100",
            ["Worker__HealthPort"] = workerHealthPort.ToString(),
        });
        using (var workerHealth = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{workerHealthPort}") })
        {
            await Poll.UntilAsync(async () => (await workerHealth.GetAsync("/healthz/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(30),
                "the worker's own readiness", Diagnostics);
            var live = await workerHealth.GetStringAsync("/healthz/live");
            Assert.StartsWith("Healthy", live);
            var ready = await workerHealth.GetStringAsync("/healthz/ready");
            Assert.Contains("mqtt: Healthy", ready);
        }
        _master.Http.DefaultRequestHeaders.Authorization = new("Bearer", token);
        await _master.WaitForWorkersAsync(1);
        var browser = await ChatClient.ConnectAsync(_master.BaseUrl);
        _browsers.Add(browser);
        for (var i = 0; i < 3; i++) await browser.SubmitAsync($"Count me {i}");
        await Poll.UntilAsync(() => browser.Answers.Count == 3, TimeSpan.FromSeconds(30), "three answers", Diagnostics);

        await Poll.UntilAsync(async () => MetricValue(await _master.Http.GetStringAsync("/metrics"), "aisystem_questions_answered_total") == 3,
            TimeSpan.FromSeconds(15), "the answered counter at 3", Diagnostics);
        var metrics = await _master.Http.GetStringAsync("/metrics");
        Assert.Equal(3, MetricValue(metrics, "aisystem_questions_received_total"));
        Assert.Equal(0, MetricValue(metrics, "aisystem_queue_length"));
        Assert.Contains("aisystem_answer_latency_seconds_bucket", metrics);
        Assert.Contains("aisystem_model_latency_seconds_count", metrics);
        Assert.Contains("aisystem_workers{", metrics);
    }

    /// <summary>The sum of a metric's samples in Prometheus text format (-1 when absent).</summary>
    private static double MetricValue(string text, string name)
    {
        var samples = text.Split('\n').Where(l => l.StartsWith(name + "{") || l.StartsWith(name + " ")).ToList();
        return samples.Count == 0 ? -1 : samples.Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }
}
