using System.Collections.Concurrent;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using AiSystem.Messages;
using AiSystem.Messages.Grpc;
using AiSystem.Messages.Mqtt;
using AiSystem.Worker.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiSystem.Worker.Tests;

public class ModelSelectorTests
{
    private static ModelSelector Selector(string provider = "auto", string workerKey = "", string allowed = "gemini-2.0-flash") =>
        new(new LlmOptions { Provider = provider, Model = "gemini-2.5-flash", AllowedModels = allowed },
            new GeminiOptions { BaseUrl = "http://127.0.0.1:9", ApiKey = workerKey }, new HttpClient());

    [Fact]
    public void A_task_naming_a_model_the_operator_did_not_allow_fails_at_once_and_for_good()
    {
        var e = Assert.Throws<ModelException>(() => Selector(workerKey: "AIzaWORKER", allowed: "").Choose("", "gemini-2.0-flash"));
        Assert.Equal(ModelErrorKind.UnknownModel, e.Kind);
        Assert.False(e.Retryable);
        Assert.Contains("Llm__AllowedModels", e.UserMessage);
        Assert.Throws<ModelException>(() => Selector(workerKey: "AIzaWORKER").Choose("", "gemini-3-ultra-expensive"));
        Assert.Equal("gemini:gemini-2.5-flash", Selector(workerKey: "AIzaWORKER", allowed: "").Choose("", "gemini-2.5-flash").Provider);
    }

    [Fact]
    public void Auto_without_any_key_is_simulated() =>
        Assert.Equal("simulated", Selector().Choose("", null).Provider);

    [Fact]
    public void Auto_with_the_task_key_is_gemini_with_the_configured_model()
    {
        var choice = Selector().Choose("AIzaTASK", null);
        Assert.IsType<GeminiChatClient>(choice.Client);
        Assert.Equal("gemini:gemini-2.5-flash", choice.Provider);
    }

    [Fact]
    public void The_worker_key_is_used_when_the_task_has_none_and_the_task_model_wins() =>
        Assert.Equal("gemini:gemini-2.0-flash", Selector(workerKey: "AIzaWORKER").Choose("  ", "gemini-2.0-flash").Provider);

    [Fact]
    public void Provider_simulated_ignores_keys() =>
        Assert.Equal("simulated", Selector("simulated", "AIzaWORKER").Choose("AIzaTASK", null).Provider);

    [Fact]
    public void Provider_gemini_without_a_key_fails_with_a_message_that_says_where_to_put_one()
    {
        var e = Assert.Throws<ModelException>(() => Selector("gemini").Choose(null, null));
        Assert.Equal(ModelErrorKind.InvalidKey, e.Kind);
        Assert.Contains("GEMINI_API_KEY", e.UserMessage);
        Assert.False(e.Retryable);
    }
}

/// <summary>Stands in for the gRPC edge: records results (and streamed text, when <see cref="Streams"/>); can hold them until released.</summary>
internal sealed class RecordingSender : IResultSender
{
    public ConcurrentQueue<(string Endpoint, TaskResult Result)> Sent { get; } = new();
    public ConcurrentQueue<(string Text, bool Restart)> Streamed { get; } = new();
    public bool Streams { get; init; }

    public IAnswerStream OpenStream(TaskMessage task, string workerId) =>
        Streams ? new RecordingStream(this, task.GrpcEndpoint) : new UnstreamedAnswer(this, task.GrpcEndpoint);

    private sealed class RecordingStream(RecordingSender owner, string endpoint) : IAnswerStream
    {
        public Task WriteAsync(string text, bool restart, CancellationToken cancellationToken)
        {
            owner.Streamed.Enqueue((text, restart));
            return Task.CompletedTask;
        }

        public Task<ResultAck> CompleteAsync(TaskResult result, DateTimeOffset giveUpAt, CancellationToken cancellationToken) =>
            owner.SendAsync(endpoint, result, giveUpAt, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
    public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public bool Hold { get; init; }

    public async Task<ResultAck> SendAsync(string grpcEndpoint, TaskResult result, DateTimeOffset giveUpAt, CancellationToken cancellationToken)
    {
        if (Hold) await Gate.Task.WaitAsync(cancellationToken);
        Sent.Enqueue((grpcEndpoint, result));
        return new ResultAck { Success = true };
    }
}

internal sealed class RecordingReporter : IWorkerStatusReporter
{
    public ConcurrentQueue<(int Active, int Capacity, long Completed)> Reports { get; } = new();
    public ConcurrentQueue<IReadOnlyList<string>> Running { get; } = new();

    public void Report(int activeTasks, int capacity, long tasksCompleted, IReadOnlyList<string> runningTaskIds)
    {
        Reports.Enqueue((activeTasks, capacity, tasksCompleted));
        Running.Enqueue(runningTaskIds);
    }
}

public class TaskRunnerTests
{
    private static TaskMessage Task(string query = "hello?", string apiKey = "") => new()
    {
        WorkerId = "w1", SessionId = "s1", Query = query, ApiKey = apiKey, GrpcEndpoint = "master:50051",
        Timestamp = 1234, TaskId = "t1", Attempt = 1, Deadline = EpochMs.Now() + 60_000,
    };

    [Fact]
    public async Task A_result_carries_the_task_identity_and_never_the_key()
    {
        var sender = new RecordingSender();
        var runner = new TaskRunner("w1", new ModelSelector(new LlmOptions { Provider = "simulated" }, new GeminiOptions(), new HttpClient()),
            sender, TimeSpan.Zero, NullLogger<TaskRunner>.Instance);

        var done = await runner.RunAsync(Task(apiKey: "AIzaSHOULD-NOT-TRAVEL"), CancellationToken.None);
        await done.Delivery;
        var result = done.Result;

        var (endpoint, sent) = Assert.Single(sender.Sent);
        Assert.Equal("master:50051", endpoint);
        Assert.Same(result, sent);
        Assert.Equal(("w1", "s1", "t1", 1234L, "hello?", "simulated", ""), (sent.WorkerId, sent.SessionId, sent.TaskId, sent.QueryTimestamp, sent.OriginalQuery, sent.Provider, sent.ApiKey));
        Assert.Contains("hello?", sent.AiResponse);
        Assert.Empty(sent.Error);
        Assert.True(sent.CompletionTimestamp >= EpochMs.Now() - 10_000);
    }

    [Fact]
    public async Task A_model_error_becomes_a_result_with_a_user_message_and_no_answer()
    {
        await using var gemini = await FakeGeminiServer.StartAsync();
        gemini.RespondWithFixture("unary-failure-quota-429.json");
        var sender = new RecordingSender();
        // Gemini asks for 26 s; this worker waits at most 1 s for quota, so it tells the user at once.
        var runner = new TaskRunner("w1", new ModelSelector(new LlmOptions(), new GeminiOptions { BaseUrl = gemini.BaseUrl.ToString() }, new HttpClient()),
            sender, TimeSpan.FromSeconds(30), NullLogger<TaskRunner>.Instance, new ModelRetryPolicy(maxQuotaWait: TimeSpan.FromSeconds(1)));

        var done = await runner.RunAsync(Task(apiKey: "AIzaTEST-key"), CancellationToken.None);
        await done.Delivery;
        var result = done.Result;

        Assert.Empty(result.AiResponse);
        Assert.Contains("quota", result.Error, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("AIzaTEST-key", result.Error);
        Assert.Equal("gemini:gemini-2.5-flash", result.Provider);
        Assert.False(result.PermanentError);
        Assert.Single(gemini.Requests);
        Assert.True(result.ProcessingTimeMs < 30_000); // errors do not wait the simulated delay
    }

    [Fact]
    public async Task An_overloaded_model_is_asked_again_and_its_later_answer_is_the_result()
    {
        await using var gemini = await FakeGeminiServer.StartAsync();
        gemini.RespondWithFixture("streaming-success-basic-reply-short.txt");
        gemini.RespondOnceWithFixture("unary-failure-overloaded-503.json");
        gemini.RespondOnceWithFixture("unary-failure-overloaded-503.json");
        var runner = new TaskRunner("w1", new ModelSelector(new LlmOptions(), new GeminiOptions { BaseUrl = gemini.BaseUrl.ToString() }, new HttpClient()),
            new RecordingSender(), TimeSpan.Zero, NullLogger<TaskRunner>.Instance, new ModelRetryPolicy(baseBackoff: TimeSpan.FromMilliseconds(20)));

        var done = await runner.RunAsync(Task(apiKey: "AIzaTEST-key"), CancellationToken.None);
        await done.Delivery;
        var result = done.Result;

        Assert.Equal(3, gemini.Requests.Count);
        Assert.Empty(result.Error);
        Assert.Equal("The capital of Wyoming is **Cheyenne**.\n", result.AiResponse);
    }

    [Fact]
    public async Task The_answer_streams_piece_by_piece_and_the_pieces_make_the_result()
    {
        await using var gemini = await FakeGeminiServer.StartAsync();
        gemini.RespondWithFixture("streaming-success-basic-reply-short.txt");
        var sender = new RecordingSender { Streams = true };
        var runner = new TaskRunner("w1", new ModelSelector(new LlmOptions(), new GeminiOptions { BaseUrl = gemini.BaseUrl.ToString() }, new HttpClient()),
            sender, TimeSpan.Zero, NullLogger<TaskRunner>.Instance);

        var done = await runner.RunAsync(Task(apiKey: "AIzaTEST-key"), CancellationToken.None);
        await done.Delivery;
        var result = done.Result;

        Assert.Contains(":streamGenerateContent?alt=sse", Assert.Single(gemini.Requests).PathAndQuery);
        Assert.Equal(["The", " capital of Wyoming", " is **Cheyenne**.\n"], sender.Streamed.Select(s => s.Text));
        Assert.DoesNotContain(sender.Streamed, s => s.Restart);
        Assert.Equal(string.Concat(sender.Streamed.Select(s => s.Text)), result.AiResponse);
        Assert.Same(result, Assert.Single(sender.Sent).Result);
    }

    [Fact]
    public async Task A_model_that_fails_mid_answer_is_asked_again_and_the_stream_starts_over()
    {
        await using var gemini = await FakeGeminiServer.StartAsync();
        gemini.RespondWithFixture("streaming-success-basic-reply-short.txt");
        gemini.RespondOnce(200, "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Half an\"}]}}]}\n\n" +
            "data: {\"error\": {\"code\": 503, \"message\": \"The model is overloaded.\", \"status\": \"UNAVAILABLE\"}}\n\n", "text/event-stream");
        var sender = new RecordingSender { Streams = true };
        var runner = new TaskRunner("w1", new ModelSelector(new LlmOptions(), new GeminiOptions { BaseUrl = gemini.BaseUrl.ToString() }, new HttpClient()),
            sender, TimeSpan.Zero, NullLogger<TaskRunner>.Instance, new ModelRetryPolicy(baseBackoff: TimeSpan.FromMilliseconds(20)));

        var done = await runner.RunAsync(Task(apiKey: "AIzaTEST-key"), CancellationToken.None);
        await done.Delivery;
        var result = done.Result;

        Assert.Equal(("Half an", false), sender.Streamed.First());
        Assert.Equal(("The", true), sender.Streamed.ElementAt(1)); // the retry's text replaces what was shown
        Assert.Equal("The capital of Wyoming is **Cheyenne**.\n", result.AiResponse);
    }

    [Fact]
    public async Task The_simulated_answer_is_spread_across_the_simulated_delay()
    {
        var sender = new RecordingSender { Streams = true };
        var delay = TimeSpan.FromMilliseconds(600);
        var runner = new TaskRunner("w1", new ModelSelector(new LlmOptions { Provider = "simulated" }, new GeminiOptions(), new HttpClient(), delay),
            sender, delay, NullLogger<TaskRunner>.Instance);
        var seenAt = new ConcurrentQueue<int>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var run = runner.RunAsync(Task(), CancellationToken.None);
        while (!run.IsCompleted)
        {
            seenAt.Enqueue(sender.Streamed.Count);
            await System.Threading.Tasks.Task.Delay(20);
        }
        var result = (await run).Result;

        Assert.InRange(watch.Elapsed, delay, delay * 5); // the delay is spent streaming, not added after it
        Assert.True(sender.Streamed.Count > 5);
        Assert.True(seenAt.Distinct().Count() > 3, "the words arrive over time, not all at once");
        Assert.Equal(SimulatedChatClient.AnswerFor("hello?"), result.AiResponse);
        Assert.Equal(result.AiResponse, string.Concat(sender.Streamed.Select(s => s.Text)));
    }

    [Fact]
    public async Task An_invalid_key_fails_at_once_and_for_good()
    {
        await using var gemini = await FakeGeminiServer.StartAsync();
        gemini.RespondWithFixture("unary-failure-api-key.json");
        var runner = new TaskRunner("w1", new ModelSelector(new LlmOptions(), new GeminiOptions { BaseUrl = gemini.BaseUrl.ToString() }, new HttpClient()),
            new RecordingSender(), TimeSpan.Zero, NullLogger<TaskRunner>.Instance);

        var done = await runner.RunAsync(Task(apiKey: "AIzaTEST-bad-key"), CancellationToken.None);
        await done.Delivery;
        var result = done.Result;

        Assert.Single(gemini.Requests);
        Assert.True(result.PermanentError);
        Assert.Contains("check the key", result.Error, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("AIzaTEST-bad-key", result.Error);
    }
}

public class ModelRetryPolicyTests
{
    private static readonly TimeSpan Plenty = TimeSpan.FromMinutes(5);
    private readonly ModelRetryPolicy _policy = new(maxRetries: 3, maxQuotaWait: TimeSpan.FromSeconds(30), baseBackoff: TimeSpan.FromSeconds(1), random: () => 0.5);

    [Fact]
    public void Quota_waits_what_Gemini_asks_for() =>
        Assert.Equal(TimeSpan.FromSeconds(26), _policy.NextDelay(ModelException.Quota(TimeSpan.FromSeconds(26)), 0, Plenty));

    [Fact]
    public void Quota_asking_for_too_long_is_given_up() =>
        Assert.Null(_policy.NextDelay(ModelException.Quota(TimeSpan.FromMinutes(5)), 0, Plenty));

    [Fact]
    public void Overload_backs_off_exponentially_then_gives_up()
    {
        var e = ModelException.Overloaded();
        Assert.Equal([1.0, 2.0, 4.0], Enumerable.Range(0, 3).Select(n => _policy.NextDelay(e, n, Plenty)!.Value.TotalSeconds));
        Assert.Null(_policy.NextDelay(e, 3, Plenty));
    }

    [Fact]
    public void Jitter_spreads_the_delay_by_a_quarter_either_way()
    {
        var low = new ModelRetryPolicy(random: () => 0.0).NextDelay(ModelException.Overloaded(), 1, Plenty);
        var high = new ModelRetryPolicy(random: () => 1.0).NextDelay(ModelException.Overloaded(), 1, Plenty);
        Assert.Equal((1.5, 2.5), (low!.Value.TotalSeconds, high!.Value.TotalSeconds));
    }

    [Fact]
    public void No_retry_past_the_time_the_task_has_left() =>
        Assert.Null(_policy.NextDelay(ModelException.Overloaded(), 0, TimeSpan.FromMilliseconds(500)));

    [Theory]
    [InlineData(ModelErrorKind.InvalidKey)]
    [InlineData(ModelErrorKind.UnknownModel)]
    [InlineData(ModelErrorKind.Blocked)]
    [InlineData(ModelErrorKind.Other)]
    public void Errors_that_another_try_will_not_fix_are_not_retried(ModelErrorKind kind) =>
        Assert.Null(_policy.NextDelay(new ModelException(kind, "x"), 0, Plenty));
}

public class WorkerActorTests : TestKit
{
    private static WorkerSettings Settings(int capacity) =>
        new(new WorkerOptions { Id = "w1", Capacity = capacity }, new LlmOptions { Provider = "simulated" }, new GeminiOptions(), new MqttOptions(),
            new AiSystem.Messages.Cluster.AkkaOptions());

    private static TaskMessage Task(string id) => new()
    {
        WorkerId = "w1", SessionId = "s1", Query = $"question {id}", GrpcEndpoint = "m:1", Timestamp = 1, TaskId = id,
    };

    private IActorRef StartWorker(RecordingSender sender, RecordingReporter reporter, int capacity, TimeSpan simulatedDelay)
    {
        var settings = Settings(capacity);
        var runner = new TaskRunner("w1", new ModelSelector(settings.Llm, settings.Gemini, new HttpClient(), simulatedDelay), sender, simulatedDelay,
            NullLogger<TaskRunner>.Instance);
        return Sys.ActorOf(Props.Create(() => new WorkerActor(runner, reporter, settings, NullLogger<WorkerActor>.Instance)));
    }

    [Fact]
    public async Task It_runs_up_to_capacity_at_once_queues_the_rest_and_ignores_redelivered_tasks()
    {
        var sender = new RecordingSender();
        var reporter = new RecordingReporter();
        var worker = StartWorker(sender, reporter, capacity: 2, simulatedDelay: TimeSpan.FromMilliseconds(300));

        worker.Tell(Task("a"));
        worker.Tell(Task("b"));
        worker.Tell(Task("c"));
        worker.Tell(Task("a")); // QoS 1 may deliver twice

        await AwaitConditionAsync(() => System.Threading.Tasks.Task.FromResult(reporter.Reports.Any(r => r.Active == 2)));
        Assert.Contains(reporter.Running, ids => ids.Order().SequenceEqual(["a", "b"]));
        await AwaitConditionAsync(() => System.Threading.Tasks.Task.FromResult(sender.Sent.Count == 3 && reporter.Reports.LastOrDefault().Active == 0));
        Assert.DoesNotContain(reporter.Reports, r => r.Active > 2);
        Assert.Equal(["a", "b", "c"], sender.Sent.Select(s => s.Result.TaskId).Order());
        Assert.Equal((0, 2, 3L), reporter.Reports.Last());
    }

    [Fact]
    public async Task A_slot_is_free_for_the_next_task_while_the_master_has_not_acknowledged_the_last_result()
    {
        var sender = new RecordingSender { Hold = true }; // the master holds every acknowledgement
        var reporter = new RecordingReporter();
        var worker = StartWorker(sender, reporter, capacity: 1, simulatedDelay: TimeSpan.Zero);

        worker.Tell(Task("a"));
        worker.Tell(Task("b"));
        await AwaitConditionAsync(() => System.Threading.Tasks.Task.FromResult(reporter.Reports.Count(r => r.Active == 0) > 0 && reporter.Reports.Last().Completed == 2));
        Assert.Empty(sender.Sent); // neither acknowledged yet

        // Shutting down waits for the acknowledgements too: a result must not be lost on the way out.
        worker.Tell(StopTakingTasks.Instance, TestActor);
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        sender.Gate.SetResult();
        ExpectMsg<WorkerDrained>();
        Assert.Equal(2, sender.Sent.Count);
    }
}
