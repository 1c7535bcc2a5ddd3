using System.Text;
using System.Text.Json;
using AiSystem.Integration.Tests.Infrastructure;
using AiSystem.Messages;
using AiSystem.Messages.Mqtt;
using AiSystem.Worker.Tests;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet.Protocol;

namespace AiSystem.Integration.Tests;

/// <summary>
/// A chat that remembers and can be steered (issue 15), against a real master, one real one-slot worker and the fake
/// Gemini server recording what the model is sent: the conversation as turns with the system instruction, failed
/// turns left out and old turns dropped, a stop mid-stream that aborts the model call and frees the slot, a queued
/// question stopped before any worker saw it, regenerate, the model's token counts, the model picker's list.
/// </summary>
public sealed class ConversationTests : IAsyncLifetime
{
    private const string SystemPrompt = "Answer in one short paragraph.";

    private FakeGeminiServer _gemini = null!;
    private MasterProcess _master = null!;
    private ChildProcess _worker = null!;
    private readonly List<ChatClient> _browsers = [];

    public async Task InitializeAsync()
    {
        _gemini = await FakeGeminiServer.StartAsync();
        _gemini.RespondWithFixture("streaming-success-basic-reply-short.txt");
        _master = await MasterProcess.StartAsync(broker: null, localWorkers: 0, new Dictionary<string, string?>
        {
            ["Chat__SystemPrompt"] = SystemPrompt,
            ["Chat__ContextTurns"] = "2",
            ["Llm__Models"] = "gemini-2.5-flash,gemini-2.5-pro",
        });
        _worker = _master.StartWorker("context-worker", new Dictionary<string, string?>
        {
            ["Llm__Provider"] = "gemini",
            ["GEMINI_API_KEY"] = "test-key-not-real",
            ["Gemini__BaseUrl"] = _gemini.BaseUrl.ToString(),
            ["Llm__Models"] = "gemini-2.5-flash,gemini-2.5-pro",
            ["Worker__SimulatedDelay"] = "00:00:00",
            ["Worker__Capacity"] = "1",
        });
        await _master.WaitForWorkersAsync(1);
    }

    public async Task DisposeAsync()
    {
        foreach (var b in _browsers) await b.DisposeAsync();
        await _worker.DisposeAsync();
        await _master.DisposeAsync();
        await _gemini.DisposeAsync();
    }

    private async Task<ChatClient> BrowserAsync(string? sessionId = null)
    {
        var browser = await ChatClient.ConnectAsync(_master.BaseUrl, sessionId);
        _browsers.Add(browser);
        return browser;
    }

    /// <summary>The request the fake server got for this question (its last user turn).</summary>
    private JsonElement RequestFor(string question)
    {
        var body = _gemini.Requests.Select(r => JsonDocument.Parse(r.Body).RootElement)
            .LastOrDefault(b => b.GetProperty("contents").EnumerateArray().Last().GetProperty("parts")[0].GetProperty("text").GetString() == question);
        Assert.True(body.ValueKind == JsonValueKind.Object, $"the model was never asked '{question}'");
        return body;
    }

    private static string? TaskIdOf(JsonElement payload) =>
        payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty("taskId", out var id) ? id.GetString() : null;

    private static List<(string Role, string Text)> Turns(JsonElement body) =>
        [.. body.GetProperty("contents").EnumerateArray().Select(c => (c.Str("role"), c.GetProperty("parts")[0].Str("text")))];

    private async Task<JsonElement> TerminalAsync(ChatClient browser, string taskId, TimeSpan timeout)
    {
        JsonElement found = default;
        await Poll.UntilAsync(() => browser.Events.Any(e =>
        {
            if (e.Name is not ("AiResponse" or "TaskFailed" or "TaskCancelled") || TaskIdOf(e.Payload) != taskId) return false;
            found = e.Payload;
            return true;
        }), timeout, $"the end of task {taskId}", () => _master.Process.Tail() + _worker.Tail());
        return found;
    }

    private async Task<JsonElement> AskAndWaitAsync(ChatClient browser, string query, object? extra = null)
    {
        var taskId = Guid.NewGuid().ToString();
        var request = new Dictionary<string, object?> { ["query"] = query, ["taskId"] = taskId };
        if (extra is not null)
            foreach (var p in JsonSerializer.SerializeToElement(extra).EnumerateObject()) request[p.Name] = p.Value;
        await browser.SubmitRequestAsync(request);
        return await TerminalAsync(browser, taskId, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Three_questions_in_a_row_reach_the_model_as_the_conversation_with_the_system_instruction()
    {
        var browser = await BrowserAsync();
        var first = await AskAndWaitAsync(browser, "What is the capital of Wyoming?");
        var second = await AskAndWaitAsync(browser, "And what is its population?");
        await AskAndWaitAsync(browser, "Is it bigger than Casper?");

        var third = RequestFor("Is it bigger than Casper?");
        Assert.Equal(
        [
            ("user", "What is the capital of Wyoming?"), ("model", first.Str("response")),
            ("user", "And what is its population?"), ("model", second.Str("response")),
            ("user", "Is it bigger than Casper?"),
        ], Turns(third));
        Assert.Equal(SystemPrompt, third.GetProperty("systemInstruction").GetProperty("parts")[0].Str("text"));
        // The first went alone (with the instruction): there was nothing before it.
        Assert.Single(Turns(RequestFor("What is the capital of Wyoming?")));

        // The model's own counts of the recorded response (7 prompt, 10 output) on the answer, in /metrics and /api/usage.
        Assert.Equal((7, 10), (first.GetProperty("promptTokens").GetInt32(), first.GetProperty("outputTokens").GetInt32()));
        string[] lines = [];
        bool Counted(string kind) => lines.Any(l => l.StartsWith("aisystem_model_tokens_total{", StringComparison.Ordinal)
            && l.Contains($"kind=\"{kind}\"", StringComparison.Ordinal) && l.Contains("model=\"gemini-2.5-flash\"", StringComparison.Ordinal));
        await Poll.UntilAsync(async () =>
        {
            lines = (await _master.Http.GetStringAsync("/metrics")).Split('\n');
            return Counted("prompt") && Counted("output");
        }, TimeSpan.FromSeconds(10), "the token counters in /metrics", () => string.Join('\n', lines.Where(l => l.Contains("aisystem_"))));
        var usage = JsonDocument.Parse(await _master.Http.GetStringAsync("/api/usage")).RootElement.EnumerateArray()
            .Single(u => u.Str("provider") == "gemini:gemini-2.5-flash");
        Assert.True(usage.GetProperty("outputTokens").GetInt64() >= 30, usage.ToString());

        // After a reload the history still has them.
        var again = await BrowserAsync(browser.SessionId);
        var item = again.Started.GetProperty("history")[0];
        Assert.Equal(10, item.GetProperty("outputTokens").GetInt32());
        Assert.Equal(["gemini-2.5-flash", "gemini-2.5-pro"], again.Started.GetProperty("models").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public async Task A_failed_turn_is_left_out_and_the_oldest_turns_go_first()
    {
        var browser = await BrowserAsync();
        await AskAndWaitAsync(browser, "q1");
        _gemini.RespondOnceWithFixture("unary-failure-api-key.json");
        var failed = await AskAndWaitAsync(browser, "q2 fails");
        Assert.Equal("TaskFailed", browser.Events.Last(e => TaskIdOf(e.Payload) == failed.Str("taskId")).Name);
        await AskAndWaitAsync(browser, "q3");
        await AskAndWaitAsync(browser, "q4");
        await AskAndWaitAsync(browser, "q5");

        Assert.Equal(["q1", "q3"], Turns(RequestFor("q3")).Where(t => t.Role == "user").Select(t => t.Text));
        // Chat__ContextTurns=2: q5 takes the two exchanges before it, q1 is dropped.
        Assert.Equal(["q3", "q4", "q5"], Turns(RequestFor("q5")).Where(t => t.Role == "user").Select(t => t.Text));
    }

    [Fact]
    public async Task Regenerate_asks_again_with_the_context_before_the_replaced_turn()
    {
        var browser = await BrowserAsync();
        await AskAndWaitAsync(browser, "first question");
        var last = await AskAndWaitAsync(browser, "second question");

        var error = await Assert.ThrowsAsync<HubException>(() => browser.SubmitRequestAsync(new
        {
            query = "edit of the first", taskId = Guid.NewGuid().ToString(), replaces = browser.Answers[0].Str("taskId"),
        }));
        Assert.Contains("Only the last question", error.Message);

        var again = await AskAndWaitAsync(browser, "second question, put better", new { replaces = last.Str("taskId"), model = "gemini-2.5-pro" });
        Assert.Equal("AiResponse", browser.Events.Last(e => TaskIdOf(e.Payload) == again.Str("taskId")).Name);
        var request = _gemini.Requests.Last();
        Assert.Contains("gemini-2.5-pro", request.Path);
        Assert.Equal(["first question", "second question, put better"],
            Turns(RequestFor("second question, put better")).Where(t => t.Role == "user").Select(t => t.Text));

        var reloaded = await BrowserAsync(browser.SessionId);
        var history = reloaded.Started.GetProperty("history").EnumerateArray().ToList();
        Assert.Equal(3, history.Count); // the replaced answer stays, as an alternate
        Assert.Equal(last.Str("taskId"), history[2].Str("replaces"));
        Assert.Equal("gemini-2.5-pro", history[2].Str("model"));

        var unknown = await Assert.ThrowsAsync<HubException>(() => browser.SubmitRequestAsync(new { query = "hi", model = "gpt-4o" }));
        Assert.Contains("is not offered here", unknown.Message);
    }

    [Fact]
    public async Task Stop_mid_stream_aborts_the_model_call_keeps_the_partial_text_and_frees_the_slot()
    {
        _gemini.RespondWithFixture("streaming-success-basic-reply-long.txt");
        _gemini.EventDelay = TimeSpan.FromMilliseconds(400); // 36 events: about 14 s unless stopped
        var browser = await BrowserAsync();
        var taskId = Guid.NewGuid().ToString();
        await browser.SubmitRequestAsync(new { query = "Tell me a long story", taskId });
        await Poll.UntilAsync(() => browser.Events.Any(e => e.Name == "AiResponseChunk" && TaskIdOf(e.Payload) == taskId),
            TimeSpan.FromSeconds(20), "the first streamed text", () => _master.Process.Tail() + _worker.Tail());

        var asked = DateTimeOffset.UtcNow;
        var reply = await browser.CancelTaskAsync(taskId);
        Assert.Equal("cancelled", reply.Str("status"));
        var cancelled = await TerminalAsync(browser, taskId, TimeSpan.FromSeconds(5));
        Assert.True(DateTimeOffset.UtcNow - asked < TimeSpan.FromSeconds(1), $"TaskCancelled took {DateTimeOffset.UtcNow - asked}");
        Assert.Equal("TaskCancelled", browser.Events.Last(e => TaskIdOf(e.Payload) == taskId).Name);
        Assert.False(string.IsNullOrEmpty(cancelled.Str("text")));

        await Poll.UntilAsync(() => _gemini.AbortedRequests >= 1, TimeSpan.FromSeconds(10), "the model call aborted", () => _worker.Tail());

        // The one slot takes the next question at once.
        _gemini.RespondWithFixture("streaming-success-basic-reply-short.txt");
        _gemini.EventDelay = TimeSpan.Zero;
        var next = await browser.SubmitRequestAsync(new { query = "Something short", taskId = Guid.NewGuid().ToString() });
        Assert.Equal("assigned", next.Str("status"));
        await TerminalAsync(browser, next.Str("taskId"), TimeSpan.FromSeconds(20));
        Assert.DoesNotContain(browser.Events, e => e.Name == "AiResponse" && TaskIdOf(e.Payload) == taskId); // never answered after all

        // After a reload the stopped answer is in the history, marked stopped, with its text.
        var reloaded = await BrowserAsync(browser.SessionId);
        var item = reloaded.Started.GetProperty("history").EnumerateArray().Single(h => h.Str("taskId") == taskId);
        Assert.True(item.GetProperty("cancelled").GetBoolean());
        Assert.Equal(cancelled.Str("text"), item.Str("response"));
        // A stop of a question that has ended changes nothing.
        Assert.Equal("answered", (await browser.CancelTaskAsync(next.Str("taskId"))).Str("status"));
    }

    [Fact]
    public async Task A_queued_question_stopped_never_reaches_a_worker()
    {
        _gemini.RespondWithFixture("streaming-success-basic-reply-long.txt");
        _gemini.EventDelay = TimeSpan.FromMilliseconds(200);
        var browser = await BrowserAsync();
        var running = await browser.SubmitRequestAsync(new { query = "the long one", taskId = Guid.NewGuid().ToString() });
        var queued = await browser.SubmitRequestAsync(new { query = "never asked of the model", taskId = Guid.NewGuid().ToString() });
        Assert.Equal("queued", queued.Str("status"));

        Assert.Equal("cancelled", (await browser.CancelTaskAsync(queued.Str("taskId"))).Str("status"));
        var stopped = await TerminalAsync(browser, queued.Str("taskId"), TimeSpan.FromSeconds(5));
        Assert.Equal("", stopped.Str("text"));

        await TerminalAsync(browser, running.Str("taskId"), TimeSpan.FromSeconds(30));
        _gemini.EventDelay = TimeSpan.Zero;
        await AskAndWaitAsync(browser, "after both");
        Assert.DoesNotContain(_gemini.Requests, r => r.Body.Contains("never asked of the model", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_worker_of_the_original_protocol_still_answers_tasks_that_carry_a_history()
    {
        await _worker.StopAsync(); // only the old worker is left to answer
        await Poll.UntilAsync(async () => (await _master.WorkersAsync()).Length == 0, TimeSpan.FromSeconds(30), "the new worker gone");

        var topics = new Topics();
        var tasks = new List<JsonElement>();
        using var grpc = Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{_master.GrpcPort}");
        var callback = new Messages.Grpc.WorkerCallback.WorkerCallbackClient(grpc);
        await using var mqtt = new MqttConnection(new MqttOptions { Host = "127.0.0.1", Port = _master.MqttPort },
            new MqttConnectionSettings("old-worker", [(topics.TasksFor("old-worker"), MqttQualityOfServiceLevel.AtLeastOnce)]),
            NullLogger.Instance);
        mqtt.MessageReceived = async (_, payload) =>
        {
            // As the original worker reads a task: the fields it knows, nothing else.
            var task = JsonDocument.Parse(System.Buffers.BuffersExtensions.ToArray(payload)).RootElement.Clone();
            lock (tasks) tasks.Add(task);
            await callback.SendResultAsync(new Messages.Grpc.TaskResult
            {
                WorkerId = "old-worker", SessionId = task.Str("session_id"), OriginalQuery = task.Str("query"),
                AiResponse = "Old answer to " + task.Str("query"), QueryTimestamp = task.GetProperty("timestamp").GetInt64(),
                CompletionTimestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), ProcessingTimeMs = 3,
            });
        };
        mqtt.Start();
        await mqtt.FirstConnect.WaitAsync(TimeSpan.FromSeconds(10));
        await mqtt.PublishAsync(topics.Register, Encoding.UTF8.GetBytes(
            $$"""{"worker_id":"old-worker","language":"Python","status":"idle","timestamp":{{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}}}"""),
            MqttQualityOfServiceLevel.AtLeastOnce);
        await _master.WaitForWorkersAsync(1);

        var browser = await BrowserAsync();
        await AskAndWaitAsync(browser, "one");
        var second = await AskAndWaitAsync(browser, "two");

        Assert.Equal("Old answer to two", second.Str("response"));
        lock (tasks) Assert.Equal(2, tasks[1].GetProperty("history").GetArrayLength()); // it had the history, and did not mind
    }
}
