using System.Text.Json;
using AiSystem.Integration.Tests.Infrastructure;

namespace AiSystem.Integration.Tests;

/// <summary>
/// Nothing is lost: workers killed and frozen, the broker restarted, the master frozen, browsers gone and back.
/// Every test uses real processes and Mosquitto and checks that each question is answered exactly once.
/// </summary>
public sealed class ResilienceTests : IAsyncLifetime
{
    private Mosquitto _broker = null!;
    private MasterProcess? _master;
    private readonly Dictionary<string, ChildProcess> _workers = [];
    private readonly List<ChatClient> _browsers = [];
    private readonly Ledger _ledger = new();

    public async Task InitializeAsync() => _broker = await Mosquitto.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var b in _browsers) await b.DisposeAsync();
        foreach (var w in _workers.Values) await w.DisposeAsync();
        if (_master is not null) await _master.DisposeAsync();
        await _broker.DisposeAsync();
    }

    private async Task StartMasterAsync(IDictionary<string, string?>? settings = null) =>
        _master = await MasterProcess.StartAsync(_broker, localWorkers: 0, settings);

    private ChildProcess StartWorker(string id, string delay = "00:00:02", int capacity = 1)
    {
        var worker = _master!.StartWorker(id, new Dictionary<string, string?>
        {
            ["Worker__SimulatedDelay"] = delay,
            ["Worker__HeartbeatInterval"] = "00:00:00.500",
            ["Worker__Capacity"] = capacity.ToString(),
        });
        _workers[id] = worker;
        return worker;
    }

    private async Task<List<ChatClient>> BrowsersAsync(int count)
    {
        var list = new List<ChatClient>();
        for (var i = 0; i < count; i++) list.Add(await ChatClient.ConnectAsync(_master!.BaseUrl));
        _browsers.AddRange(list);
        return list;
    }

    private string Diagnostics() =>
        _ledger.Summary(_browsers) + "\n" + string.Join('\n', _workers.Values.Select(w => w.Tail(10)).Append(_master!.Process.Tail(40)));

    [Fact]
    public async Task Workers_killed_and_restarted_every_few_seconds_lose_no_question_and_answer_none_twice()
    {
        await StartMasterAsync(new Dictionary<string, string?> { ["Dispatch__MaxAttempts"] = "10", ["Dispatch__TaskTimeout"] = "00:00:30" });
        string[] ids = ["chaos-1", "chaos-2", "chaos-3"];
        foreach (var id in ids) StartWorker(id, capacity: 2);
        await _master!.WaitForWorkersAsync(3);

        var browsers = await BrowsersAsync(10);
        for (var q = 0; q < 10; q++)
            for (var b = 0; b < browsers.Count; b++)
                await _ledger.AskAsync(browsers[b], $"Chaos question {q} of session {b}");

        var kills = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        var nextKill = DateTime.UtcNow + TimeSpan.FromSeconds(3);
        while (_ledger.Answered(browsers) < 100 && DateTime.UtcNow < deadline)
        {
            if (DateTime.UtcNow >= nextKill)
            {
                var victim = ids[kills % ids.Length];
                _workers[victim].Kill();
                await _workers[victim].WaitForExitAsync(TimeSpan.FromSeconds(10));
                await _workers[victim].DisposeAsync();
                StartWorker(victim, capacity: 2); // same id: its broker session and its dispatcher record come back
                kills++;
                nextKill = DateTime.UtcNow + TimeSpan.FromSeconds(4);
            }
            await Task.Delay(100);
        }

        Assert.True(_ledger.Answered(browsers) == 100, Diagnostics());
        Assert.True(kills >= 3, $"only {kills} kills happened");
        _ledger.AssertEachAnsweredExactlyOnce(browsers);
        Assert.False(_master.Process.HasExited);
    }

    [Fact]
    public async Task A_frozen_worker_loses_its_tasks_to_others_and_its_late_results_are_dropped()
    {
        await StartMasterAsync();
        var frozen = StartWorker("frozen-worker", capacity: 2);
        await _master!.WaitForWorkersAsync(1);
        var browsers = await BrowsersAsync(2);
        for (var i = 0; i < 2; i++) await _ledger.AskAsync(browsers[i], $"Question {i} for the worker that will freeze");
        await Poll.UntilAsync(() => browsers.Count(b => b.Payloads("TaskAssigned").Count > 0) == 2, TimeSpan.FromSeconds(10), "both tasks assigned");

        frozen.Freeze();
        StartWorker("healthy-worker", capacity: 2);

        await Poll.UntilAsync(() => _ledger.Answered(browsers) == 2, TimeSpan.FromSeconds(60), "answers from the healthy worker", Diagnostics);
        Assert.All(browsers.SelectMany(b => b.Answers), a => Assert.Equal("healthy-worker", a.Str("workerId")));
        Assert.All(browsers, b => Assert.Contains(b.Payloads("TaskAssigned"), e => e.GetProperty("attempt").GetInt32() == 2));

        frozen.Resume();
        // Its two late results reach the master and are dropped: the worker logs each one's end.
        await Poll.UntilAsync(() => frozen.CountLines("done in") >= 2, TimeSpan.FromSeconds(60), "the frozen worker's late results", Diagnostics);
        await Poll.UntilAsync(() => _master.Process.CountLines("Duplicate result for task") + _master.Process.CountLines("refused") >= 2,
            TimeSpan.FromSeconds(10), "the master to drop the late results", Diagnostics);
        _ledger.AssertEachAnsweredExactlyOnce(browsers);
    }

    [Fact]
    public async Task Mosquitto_stopped_for_five_seconds_mid_run_loses_nothing()
    {
        await StartMasterAsync(new Dictionary<string, string?> { ["Dispatch__TaskTimeout"] = "00:00:10" });
        StartWorker("outage-1", delay: "00:00:01");
        StartWorker("outage-2", delay: "00:00:01");
        await _master!.WaitForWorkersAsync(2);
        var browsers = await BrowsersAsync(2);
        for (var i = 0; i < 10; i++) await _ledger.AskAsync(browsers[i % 2], $"Before the outage {i}");
        await Poll.UntilAsync(() => _ledger.Answered(browsers) >= 2, TimeSpan.FromSeconds(30), "the first answers", Diagnostics);

        await _broker.StopAsync();
        for (var i = 0; i < 6; i++) await _ledger.AskAsync(browsers[i % 2], $"During the outage {i}"); // the hub still takes questions
        await Task.Delay(TimeSpan.FromSeconds(5)); // the outage itself
        await _broker.RestartAsync();

        await Poll.UntilAsync(() => _ledger.Answered(browsers) == 16, TimeSpan.FromSeconds(90), "every answer after the outage", Diagnostics);
        _ledger.AssertEachAnsweredExactlyOnce(browsers);
        Assert.Equal(2, (await _master.WorkersAsync()).Length);
    }

    [Fact]
    public async Task A_master_frozen_while_a_worker_finishes_still_gets_the_answer_to_the_browser()
    {
        await StartMasterAsync();
        StartWorker("patient-worker", delay: "00:00:01");
        await _master!.WaitForWorkersAsync(1);
        var browser = (await BrowsersAsync(1))[0];
        await _ledger.AskAsync(browser, "Will this survive a frozen master?");
        await Poll.UntilAsync(() => browser.Payloads("TaskAssigned").Count == 1, TimeSpan.FromSeconds(10), "assignment");

        _master.Process.Freeze();
        await Task.Delay(TimeSpan.FromSeconds(5)); // the freeze itself: the worker finishes meanwhile
        _master.Process.Resume();

        await Poll.UntilAsync(() => browser.Answers.Count == 1, TimeSpan.FromSeconds(60), "the answer after the freeze", Diagnostics);
        _ledger.AssertEachAnsweredExactlyOnce([browser]);
        Assert.Single(await _master.WorkersAsync()); // the master did not blame the worker for its own silence
    }

    [Fact]
    public async Task A_browser_that_left_before_its_answer_finds_it_when_it_comes_back()
    {
        await StartMasterAsync();
        StartWorker("steady-worker", delay: "00:00:01");
        await _master!.WaitForWorkersAsync(1);

        var first = await ChatClient.ConnectAsync(_master.BaseUrl);
        var sessionId = first.SessionId;
        var taskId = (await first.SubmitAsync("Answer me while I am away")).Str("taskId");
        await first.DisposeAsync(); // the tab is closed before the answer

        await Poll.UntilAsync(async () => (await _master.Http.GetStringAsync("/api/tasks")) == "[]", TimeSpan.FromSeconds(30), "the task to finish");

        var back = await ChatClient.ConnectAsync(_master.BaseUrl, sessionId);
        _browsers.Add(back);
        Assert.Equal(sessionId, back.SessionId);
        Assert.True(back.Started.GetProperty("resumed").GetBoolean());
        var item = Assert.Single(back.Started.GetProperty("history").EnumerateArray());
        Assert.Equal(taskId, item.Str("taskId"));
        Assert.Equal("Answer me while I am away", item.Str("query"));
        // The task left /api/tasks when the dispatcher decided it; the answer is journaled and handed to the session
        // right after. So the returning browser finds it in its history or, if it came back in between, gets it as
        // one AiResponse event: exactly once either way.
        var inHistory = item.TryGetProperty("response", out var r) && r.ValueKind == JsonValueKind.String && r.GetString()!.Length > 0;
        if (!inHistory)
            await Poll.UntilAsync(() => back.Answers.Count > 0, TimeSpan.FromSeconds(10), "the answer as an event");
        var answer = inHistory ? item : Assert.Single(back.Answers);
        Assert.Contains("Answer me while I am away", answer.Str("response"));
        Assert.Equal("steady-worker", answer.Str("workerId"));
        Assert.Equal(inHistory ? 0 : 1, back.Answers.Count);
    }

    [Fact]
    public async Task An_idle_session_passivates_and_comes_back_from_its_journal_with_its_history()
    {
        await StartMasterAsync(new Dictionary<string, string?> { ["Sessions__IdleTimeout"] = "00:00:02" });
        StartWorker("idle-worker", delay: "00:00:00.100");
        await _master!.WaitForWorkersAsync(1);
        var first = await ChatClient.ConnectAsync(_master.BaseUrl);
        var sessionId = first.SessionId;
        await first.SubmitAsync("Remember me while I sleep");
        await Poll.UntilAsync(() => first.Answers.Count == 1, TimeSpan.FromSeconds(20), "the answer");
        await first.DisposeAsync();

        await Poll.UntilAsync(() => _master.Process.CountLines($"Session {sessionId[..8]} passivated") == 1, TimeSpan.FromSeconds(20), "the session to passivate");

        var later = await ChatClient.ConnectAsync(_master.BaseUrl, sessionId);
        _browsers.Add(later);
        Assert.True(later.Started.GetProperty("resumed").GetBoolean());
        Assert.Equal(sessionId, later.SessionId);
        var item = Assert.Single(later.Started.GetProperty("history").EnumerateArray());
        Assert.Contains("Remember me while I sleep", item.Str("response"));

        // An id the master never saw starts a new, empty session.
        var stranger = await ChatClient.ConnectAsync(_master.BaseUrl, Guid.NewGuid().ToString());
        _browsers.Add(stranger);
        Assert.False(stranger.Started.GetProperty("resumed").GetBoolean());
        Assert.Empty(stranger.Started.GetProperty("history").EnumerateArray());
    }

    [Fact]
    public async Task A_worker_told_to_stop_finishes_its_task_then_leaves_and_the_rest_goes_elsewhere()
    {
        await StartMasterAsync();
        var leaving = StartWorker("leaving-worker", delay: "00:00:03");
        await _master!.WaitForWorkersAsync(1);
        var browser = (await BrowsersAsync(1))[0];
        await _ledger.AskAsync(browser, "Finish me before you go");
        await Poll.UntilAsync(() => browser.Payloads("TaskAssigned").Count == 1, TimeSpan.FromSeconds(10), "assignment");
        await _ledger.AskAsync(browser, "I will be answered by the next worker"); // queued: the only slot is busy

        leaving.Terminate();
        Assert.True(await leaving.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the worker did not exit on SIGTERM\n" + leaving.Tail());
        Assert.Equal(0, leaving.ExitCode);
        // It finished the running task before leaving (the answer was acknowledged before it exited).
        await Poll.UntilAsync(() => browser.Answers.Count == 1, TimeSpan.FromSeconds(5), "the running task's answer", Diagnostics);
        Assert.Equal("leaving-worker", browser.Answers[0].Str("workerId"));
        await Poll.UntilAsync(async () => (await _master.WorkersAsync()).Length == 0, TimeSpan.FromSeconds(10), "the worker to be gone");

        StartWorker("next-worker", delay: "00:00:00.200");
        await Poll.UntilAsync(() => browser.Answers.Count == 2, TimeSpan.FromSeconds(30), "the queued question", Diagnostics);
        Assert.Equal("next-worker", browser.Answers[1].Str("workerId"));
        _ledger.AssertEachAnsweredExactlyOnce([browser]);
    }

    [Fact]
    public async Task A_master_told_to_stop_refuses_new_questions_and_delivers_the_answers_in_flight_before_it_exits()
    {
        await StartMasterAsync();
        StartWorker("last-worker", delay: "00:00:03");
        await _master!.WaitForWorkersAsync(1);
        var browser = (await BrowsersAsync(1))[0];
        await _ledger.AskAsync(browser, "Answer me before you restart");
        await Poll.UntilAsync(() => browser.Payloads("TaskAssigned").Count == 1, TimeSpan.FromSeconds(10), "assignment");

        _master.Process.Terminate();
        await Poll.UntilAsync(() => _master.Process.CountLines("Shutting down: waiting for 1 task(s) in flight") > 0,
            TimeSpan.FromSeconds(10), "the master to start draining", Diagnostics);
        var refused = await Assert.ThrowsAsync<Microsoft.AspNetCore.SignalR.HubException>(() => browser.SubmitAsync("Too late?"));
        Assert.Contains("restarting", refused.Message);

        await Poll.UntilAsync(() => browser.Answers.Count == 1, TimeSpan.FromSeconds(20), "the answer in flight", Diagnostics);
        Assert.True(await _master.Process.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the master did not exit\n" + _master.Process.Tail());
        _ledger.AssertEachAnsweredExactlyOnce([browser]);
    }
}
