using System.Text;
using AiSystem.Integration.Tests.Infrastructure;
using AiSystem.Messages;
using AiSystem.Messages.Grpc;
using AiSystem.Worker.Tests;
using Grpc.Net.Client;
using Microsoft.AspNetCore.SignalR;

namespace AiSystem.Integration.Tests;

/// <summary>Bad input of every kind is refused with a clear reason; the processes stay up; nothing accepted is lost.</summary>
public sealed class AbuseTests : IAsyncLifetime
{
    private Mosquitto _broker = null!;
    private MasterProcess? _master;
    private readonly List<ChildProcess> _workers = [];
    private readonly List<ChatClient> _browsers = [];
    private readonly Topics _topics = new();

    public async Task InitializeAsync() => _broker = await Mosquitto.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var b in _browsers) await b.DisposeAsync();
        foreach (var w in _workers) await w.DisposeAsync();
        if (_master is not null) await _master.DisposeAsync();
        await _broker.DisposeAsync();
    }

    private async Task<ChatClient> BrowserAsync()
    {
        var browser = await ChatClient.ConnectAsync(_master!.BaseUrl);
        _browsers.Add(browser);
        return browser;
    }

    private ChildProcess StartWorker(string id, string delay, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?> { ["Worker__SimulatedDelay"] = delay };
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>()) settings[k] = v;
        var worker = _master!.StartWorker(id, settings);
        _workers.Add(worker);
        return worker;
    }

    /// <summary>Payloads that are wrong for every worker topic: not JSON, wrong types, missing or absurd fields.</summary>
    private static IEnumerable<byte[]> Garbage(int count)
    {
        var random = new Random(12345);
        string[] templates =
        [
            "not json at all", "", "{", "[]", "null", "42", "\"a string\"", "{\"worker_id\":",
            """{"worker_id":123,"status":"idle","timestamp":1}""",
            """{"status":"idle","timestamp":1}""",
            """{"worker_id":"","status":"idle","timestamp":1}""",
            """{"worker_id":"a/b","status":"idle","timestamp":1,"session_id":"s","query":"q","grpc_endpoint":"x:1"}""",
            """{"worker_id":"w#","status":"idle","timestamp":1}""",
            """{"worker_id":"w","status":"idle","timestamp":"yesterday"}""",
            """{"worker_id":"w","status":"idle","timestamp":1,"capacity":-5,"session_id":"s","query":"q","grpc_endpoint":"x:1"}""",
            """{"worker_id":"w","status":"idle","timestamp":1,"capacity":0,"session_id":"s","query":"q","grpc_endpoint":"x:1"}""",
            """{"worker_id":"w","status":"idle","timestamp":1,"capacity":99999999999,"session_id":"s","query":"q","grpc_endpoint":"x:1"}""",
            """{"worker_id":"w","status":"idle","timestamp":1,"capacity":"many","session_id":"s","query":"q","grpc_endpoint":"x:1"}""",
            """{"worker_id":null,"status":null,"timestamp":null}""",
            "{\"worker_id\":\"" + new string('w', 200_000) + "\",\"status\":\"idle\",\"timestamp\":1}",
            new string('[', 500) + new string(']', 500),
        ];
        for (var i = 0; i < count; i++)
        {
            if (i % 10 == 9)
            {
                var bytes = new byte[random.Next(1, 300)];
                random.NextBytes(bytes);
                bytes[0] = 0xFF; // never valid UTF-8 JSON
                yield return bytes;
            }
            else
            {
                yield return Encoding.UTF8.GetBytes(templates[i % templates.Length]);
            }
        }
    }

    [Fact]
    public async Task Thousands_of_malformed_MQTT_payloads_are_dropped_one_warning_each_and_questions_are_still_answered()
    {
        _master = await MasterProcess.StartAsync(_broker, localWorkers: 0);
        var worker = StartWorker("sturdy-worker", "00:00:00.100");
        await _master.WaitForWorkersAsync(1);

        const int perTopic = 1000;
        await using (var probe = await MqttProbe.ConnectAsync(_broker.Port))
        {
            foreach (var topic in new[] { _topics.Register, _topics.Status, _topics.Heartbeat })
                foreach (var payload in Garbage(perTopic))
                    await probe.PublishAsync(topic, payload);
            foreach (var payload in Garbage(300))
                await probe.PublishAsync(_topics.TasksFor("sturdy-worker"), payload);
        }

        await Poll.UntilAsync(() => _master.Process.CountLines("Dropped a malformed message") >= 3 * perTopic,
            TimeSpan.FromSeconds(60), "a warning per malformed message", () => _master.Process.Tail());
        // The worker drops each one too: malformed, or well-formed but addressed to another worker.
        await Poll.UntilAsync(() => worker.CountLines("warn: AiSystem.Worker.WorkerMqttBridge[0] Dropped ") >= 300, TimeSpan.FromSeconds(30),
            "the worker's warnings", () => worker.Tail());
        Assert.Equal(3 * perTopic, _master.Process.CountLines("Dropped a malformed message"));
        Assert.Equal(300, worker.CountLines("warn: AiSystem.Worker.WorkerMqttBridge[0] Dropped "));

        // Nothing malformed became a worker, and everyone still serves.
        var workers = await _master.WorkersAsync();
        Assert.Equal("sturdy-worker", Assert.Single(workers).Str("id"));
        var browser = await BrowserAsync();
        var ledger = new Ledger();
        for (var i = 0; i < 5; i++) await ledger.AskAsync(browser, $"Still there after the garbage? {i}");
        await Poll.UntilAsync(() => browser.Answers.Count == 5, TimeSpan.FromSeconds(30), "answers after the fuzz", () => _master.Process.Tail());
        ledger.AssertEachAnsweredExactlyOnce([browser]);
        Assert.False(_master.Process.HasExited);
        Assert.False(worker.HasExited);
    }

    [Fact]
    public async Task Forged_results_are_refused_and_a_duplicate_is_dropped_so_the_user_sees_one_true_answer()
    {
        _master = await MasterProcess.StartAsync(_broker, localWorkers: 0);
        StartWorker("honest-worker", "00:00:02");
        await _master.WaitForWorkersAsync(1);
        var browser = await BrowserAsync();
        var taskId = (await browser.SubmitAsync("What is the real answer?")).Str("taskId");
        await Poll.UntilAsync(() => browser.Payloads("TaskAssigned").Count == 1, TimeSpan.FromSeconds(10), "assignment");

        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_master.GrpcPort}");
        var callback = new WorkerCallback.WorkerCallbackClient(channel);
        TaskResult Forged(string workerId, string id) => new()
        {
            WorkerId = workerId, TaskId = id, SessionId = browser.SessionId, OriginalQuery = "What is the real answer?",
            AiResponse = "FORGED", QueryTimestamp = 1, CompletionTimestamp = 2,
        };

        Assert.False((await callback.SendResultAsync(Forged("evil-worker", taskId))).Success); // not its task
        Assert.False((await callback.SendResultAsync(Forged("honest-worker", Guid.NewGuid().ToString()))).Success); // no such task
        Assert.False((await callback.SendResultAsync(Forged("honest-worker", ""))).Success); // old style, nothing matches
        Assert.False((await callback.SendResultAsync(new TaskResult())).Success); // empty

        await Poll.UntilAsync(() => browser.Answers.Count == 1, TimeSpan.FromSeconds(30), "the real answer", () => _master.Process.Tail());
        var duplicate = await callback.SendResultAsync(Forged("honest-worker", taskId));
        Assert.True(duplicate.Success);
        Assert.Contains("duplicate", duplicate.Message);

        await Poll.UntilAsync(async () => (await _master.Http.GetStringAsync("/api/tasks")) == "[]", TimeSpan.FromSeconds(5), "no task left");
        var answer = Assert.Single(browser.Answers);
        Assert.DoesNotContain("FORGED", answer.Str("response"));
        Assert.Equal("honest-worker", answer.Str("workerId"));
    }

    [Fact]
    public async Task A_full_queue_a_too_fast_session_and_an_oversized_frame_are_refused_cleanly()
    {
        _master = await MasterProcess.StartAsync(_broker, localWorkers: 0, new Dictionary<string, string?>
        {
            ["Limits__MaxQueuedTasks"] = "3",
            ["Limits__MaxQueriesPerMinute"] = "4",
        });
        var asker = await BrowserAsync();
        var ledger = new Ledger();
        for (var i = 1; i <= 3; i++)
        {
            await ledger.AskAsync(asker, $"Queued question {i}");
        }
        await Poll.UntilAsync(() => asker.Payloads("TaskQueued").Count == 3, TimeSpan.FromSeconds(5), "three positions");
        Assert.Equal([1, 2, 3], asker.Payloads("TaskQueued").Select(p => p.GetProperty("position").GetInt32()));

        var full = await Assert.ThrowsAsync<HubException>(() => asker.SubmitAsync("One too many"));
        Assert.Contains("queue is full", full.Message);
        var tooFast = await Assert.ThrowsAsync<HubException>(() => asker.SubmitAsync("And another"));
        Assert.Contains("too fast", tooFast.Message);

        var flooder = await ChatClient.ConnectAsync(_master.BaseUrl);
        await Assert.ThrowsAnyAsync<Exception>(() => flooder.SubmitAsync(new string('x', 200_000)));
        await flooder.DisposeAsync();
        Assert.False(_master.Process.HasExited);

        // What was accepted is still there and is answered once a worker comes; positions move up meanwhile (reported
        // about once a second: the worker takes longer than that per question).
        Assert.Equal(3, System.Text.Json.JsonDocument.Parse(await _master.Http.GetStringAsync("/api/tasks")).RootElement.GetArrayLength());
        StartWorker("late-worker", "00:00:01.500");
        await Poll.UntilAsync(() => asker.Answers.Count == 3, TimeSpan.FromSeconds(30), "the queued answers", () => _master.Process.Tail());
        ledger.AssertEachAnsweredExactlyOnce([asker]);
        Assert.Contains(asker.Payloads("TaskQueued"), p => p.GetProperty("position").GetInt32() == 1 && p.Str("taskId") != asker.Payloads("TaskQueued")[0].Str("taskId"));
    }

    [Fact]
    public async Task An_api_key_appears_in_no_log_no_upb_logs_message_no_result_and_no_api_answer()
    {
        const string browserKey = "AIzaBROWSER-canary-6d1f0a";
        const string workerKey = "AIzaWORKER-canary-93be44";
        await using var gemini = await FakeGeminiServer.StartAsync();
        gemini.RespondWithFixture("streaming-success-basic-reply-short.txt");
        await using var logs = await LogListener.StartAsync(_broker.Port);
        _master = await MasterProcess.StartAsync(_broker, localWorkers: 0, new Dictionary<string, string?> { ["GEMINI_API_KEY"] = workerKey });
        var geminiSettings = new Dictionary<string, string?> { ["Gemini__BaseUrl"] = gemini.BaseUrl.ToString(), ["GEMINI_API_KEY"] = workerKey };
        StartWorker("keyed-worker-1", "00:00:00.100", geminiSettings);
        StartWorker("keyed-worker-2", "00:00:00.100", geminiSettings);
        await _master.WaitForWorkersAsync(2);
        var browser = await BrowserAsync();

        await browser.SubmitAsync("With the browser's key", browserKey);
        await Poll.UntilAsync(() => browser.Answers.Count == 1, TimeSpan.FromSeconds(30), "answer 1", () => _master.Process.Tail());
        await browser.SubmitAsync("With the worker's own key");
        await Poll.UntilAsync(() => browser.Answers.Count == 2, TimeSpan.FromSeconds(30), "answer 2", () => _master.Process.Tail());
        gemini.RespondWithFixture("unary-failure-api-key.json");
        await browser.SubmitAsync("With a key Gemini rejects", browserKey);
        await Poll.UntilAsync(() => browser.Payloads("TaskFailed").Count == 1, TimeSpan.FromSeconds(30), "the failure", () => _master.Process.Tail());
        var failure = browser.Payloads("TaskFailed")[0];
        Assert.False(failure.GetProperty("retryable").GetBoolean());
        Assert.Contains("key", failure.Str("error"));

        Assert.Equal(new[] { browserKey, workerKey, browserKey }, gemini.Requests.Select(r => r.Header("x-goog-api-key")));
        await Poll.UntilAsync(() => logs.Raw.Any(l => l.Contains("keyed-worker")), TimeSpan.FromSeconds(5), "worker lines on upb/logs");

        var places = new Dictionary<string, string>
        {
            ["master log"] = _master.Process.Output,
            ["worker logs"] = string.Join('\n', _workers.Select(w => w.Output)),
            ["upb/logs"] = string.Join('\n', logs.Raw),
            ["browser events (results)"] = string.Join('\n', browser.Events.Select(e => e.Payload.GetRawText())),
            ["/api/tasks"] = await _master.Http.GetStringAsync("/api/tasks"),
            ["/api/workers"] = await _master.Http.GetStringAsync("/api/workers"),
        };
        foreach (var (place, text) in places)
        {
            Assert.False(string.IsNullOrEmpty(text) && place.Contains("log"), $"{place} captured nothing: the check would be empty");
            Assert.DoesNotContain(browserKey, text);
            Assert.DoesNotContain(workerKey, text);
        }
    }
}
