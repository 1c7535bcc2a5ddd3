using AiSystem.Integration.Tests.Infrastructure;

namespace AiSystem.Integration.Tests;

/// <summary>The whole path with real parts: Mosquitto, the master and two worker processes, three browsers.</summary>
public sealed class EndToEndTests : IAsyncLifetime
{
    private Mosquitto _broker = null!;
    private LogListener _logs = null!;
    private MasterProcess _master = null!;
    private readonly List<ChildProcess> _workers = [];
    private readonly List<ChatClient> _browsers = [];

    public async Task InitializeAsync()
    {
        _broker = await Mosquitto.StartAsync();
        _logs = await LogListener.StartAsync(_broker.Port);
        _master = await MasterProcess.StartAsync(_broker, localWorkers: 0);
        _workers.Add(_master.StartWorker("e2e-worker-a"));
        _workers.Add(_master.StartWorker("e2e-worker-b"));
        await _master.WaitForWorkersAsync(2);
    }

    public async Task DisposeAsync()
    {
        foreach (var b in _browsers) await b.DisposeAsync();
        foreach (var w in _workers) await w.DisposeAsync();
        await _master.DisposeAsync();
        await _logs.DisposeAsync();
        await _broker.DisposeAsync();
    }

    private string Diagnostics() => string.Join('\n', _workers.Select(w => w.Tail(15)).Append(_master.Process.Tail(30)));

    [Fact]
    public async Task Three_browsers_ask_fifteen_questions_and_each_gets_exactly_its_own_answers()
    {
        for (var i = 0; i < 3; i++) _browsers.Add(await ChatClient.ConnectAsync(_master.BaseUrl));
        Assert.Equal(3, _browsers.Select(b => b.SessionId).Distinct().Count());
        Assert.All(_browsers, b => Assert.False(b.Started.GetProperty("resumed").GetBoolean()));

        // taskId -> (browser index, question)
        var asked = new Dictionary<string, (int Browser, string Query)>();
        var submits = new List<Task>();
        for (var q = 0; q < 5; q++)
        {
            for (var b = 0; b < 3; b++)
            {
                var browser = b;
                var query = $"Question {q} from browser {b}: what is {q} + {b}?";
                var reply = await _browsers[b].SubmitAsync(query);
                var status = reply.Str("status");
                Assert.Contains(status, new[] { "assigned", "queued" });
                if (status == "queued") Assert.True(reply.GetProperty("position").GetInt32() >= 1);
                asked.Add(reply.Str("taskId"), (browser, query));
            }
        }
        Assert.Equal(15, asked.Count);

        await Poll.UntilAsync(() => _browsers.Sum(b => b.Answers.Count) >= 15, TimeSpan.FromSeconds(90),
            "15 answers", Diagnostics);

        for (var b = 0; b < 3; b++)
        {
            var answers = _browsers[b].Answers;
            var mine = asked.Where(a => a.Value.Browser == b).ToDictionary(a => a.Key, a => a.Value.Query);
            Assert.Equal(mine.Keys.Order(), answers.Select(a => a.Str("taskId")).Order()); // exactly once, none of others'
            foreach (var answer in answers)
            {
                var query = mine[answer.Str("taskId")];
                Assert.Equal(query, answer.Str("query"));
                Assert.Contains(query, answer.Str("response")); // the simulated model restates the question it got
                Assert.Equal("simulated", answer.Str("provider"));
                Assert.StartsWith("e2e-worker-", answer.Str("workerId"));
                Assert.InRange(answer.GetProperty("processingTimeMs").GetInt64(), 290, 60_000); // the 300 ms simulated delay, timer granularity allowed
                Assert.True(answer.GetProperty("timestamp").GetInt64() > 0);
            }
            Assert.Empty(_browsers[b].Payloads("TaskFailed"));
        }

        // Both worker processes took tasks: the dispatcher spread the load.
        var workersUsed = _browsers.SelectMany(b => b.Answers).Select(a => a.Str("workerId")).Distinct().Order().ToList();
        Assert.Equal(["e2e-worker-a", "e2e-worker-b"], workersUsed);
        // With two one-slot workers and fifteen questions, some waited in the queue and were told their position.
        Assert.Contains(_browsers, b => b.Payloads("TaskQueued").Count > 0);

        // Every component logs to upb/logs too, naming itself and the task.
        var someTask = asked.Keys.First();
        await Poll.UntilAsync(() => new[] { "master", "e2e-worker-a", "e2e-worker-b" }.All(s => _logs.Lines.Any(l => l.Source == s)),
            TimeSpan.FromSeconds(10), "log lines from master and both workers on upb/logs");
        Assert.Contains(_logs.Lines, l => l.Source == "master" && l.TaskId == someTask && l.Level == "info");
        Assert.Contains(_logs.Lines, l => l.Source.StartsWith("e2e-worker-") && l.TaskId == someTask);
    }

    [Fact]
    public async Task Empty_and_oversized_questions_are_refused_with_a_clear_message_and_nothing_is_queued()
    {
        var browser = await ChatClient.ConnectAsync(_master.BaseUrl);
        _browsers.Add(browser);

        var empty = await Assert.ThrowsAsync<Microsoft.AspNetCore.SignalR.HubException>(() => browser.SubmitAsync("   "));
        Assert.Contains("empty", empty.Message);
        var huge = await Assert.ThrowsAsync<Microsoft.AspNetCore.SignalR.HubException>(() => browser.SubmitAsync(new string('x', 8001)));
        Assert.Contains("too long", huge.Message);

        var tasks = await _master.Http.GetStringAsync("/api/tasks");
        Assert.Equal("[]", tasks);
        // The connection stays usable.
        var ok = await browser.SubmitAsync("still there?");
        await Poll.UntilAsync(() => browser.Answers.Count == 1, TimeSpan.FromSeconds(30), "the answer", Diagnostics);
        Assert.Equal(ok.Str("taskId"), browser.Answers[0].Str("taskId"));
    }

    [Fact]
    public async Task A_question_sent_again_with_its_task_id_is_the_same_question_and_gets_one_answer()
    {
        var browser = await ChatClient.ConnectAsync(_master.BaseUrl);
        _browsers.Add(browser);
        var taskId = Guid.NewGuid().ToString("D");

        // The page sends, times out and sends again (even while the first is still being stored), then once more later.
        var both = await Task.WhenAll(browser.SubmitAsync("Only once, please", taskId, null), browser.SubmitAsync("Only once, please", taskId, null));
        Assert.All(both, r => Assert.Equal(taskId, r.Str("taskId")));
        await Poll.UntilAsync(() => browser.Answers.Count == 1, TimeSpan.FromSeconds(30), "the answer", Diagnostics);
        Assert.Equal("answered", (await browser.SubmitAsync("Only once, please", taskId, null)).Str("status"));

        Assert.Empty(browser.Payloads("TaskAccepted")); // the asking connection has it all in its reply
        await using var reload = await ChatClient.ConnectAsync(_master.BaseUrl, browser.SessionId);
        Assert.Equal(taskId, Assert.Single(reload.Started.GetProperty("history").EnumerateArray()).Str("taskId"));
        Assert.Single(browser.Answers);

        // Another tab of the session hears of a question from TaskAccepted, first.
        var other = await ChatClient.ConnectAsync(_master.BaseUrl, browser.SessionId);
        _browsers.Add(other);
        var second = Guid.NewGuid().ToString("D");
        await browser.SubmitAsync("And a second one", second, null);
        await Poll.UntilAsync(() => other.Answers.Any(a => a.Str("taskId") == second), TimeSpan.FromSeconds(30), "the other tab's copy of the answer", Diagnostics);
        var seen = other.Events.Where(e => e.Name != "SessionStarted" && e.Payload.TryGetProperty("taskId", out var t) && t.GetString() == second).ToList();
        Assert.Equal("TaskAccepted", seen[0].Name);
        Assert.Equal("And a second one", seen[0].Payload.Str("query"));

        // An id that is not a lowercase UUID is refused with what to send instead.
        var bad = await Assert.ThrowsAsync<Microsoft.AspNetCore.SignalR.HubException>(() => browser.SubmitAsync("hello", "NOT-A-UUID", null));
        Assert.Contains("UUID", bad.Message);
    }
}
