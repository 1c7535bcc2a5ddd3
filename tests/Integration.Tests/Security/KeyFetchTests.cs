using System.Text.Json;
using AiSystem.Integration.Tests.Infrastructure;
using AiSystem.Messages.Grpc;
using AiSystem.Worker.Tests;
using Grpc.Net.Client;

namespace AiSystem.Integration.Tests.Security;

/// <summary>
/// A user's key reaches only the worker that runs that user's task (issue 14): a worker that registered
/// <c>fetches_keys</c> gets a task without the key (<c>api_key_held</c>) and fetches it from the master with gRPC
/// <c>FetchKey</c>, proven by the assignment's alias. Mosquitto here has no access rules, so a sniffer on
/// <c>upb/workers/+/tasks</c> reads every task the broker carries: none holds the key.
/// </summary>
public sealed class KeyFetchTests : IAsyncLifetime
{
    private const string BrowserKey = "AIzaBROWSER-fetched-4c2e71";
    private Mosquitto _broker = null!;
    private MasterProcess? _master;
    private ChildProcess? _worker;
    private ChatClient? _browser;

    public async Task InitializeAsync() => _broker = await Mosquitto.StartAsync();

    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        if (_worker is not null) await _worker.DisposeAsync();
        if (_master is not null) await _master.DisposeAsync();
        await _broker.DisposeAsync();
    }

    [Fact]
    public async Task The_users_key_never_travels_on_the_broker_the_worker_fetches_it_and_nobody_else_can()
    {
        await using var gemini = await FakeGeminiServer.StartAsync();
        gemini.RespondWithFixture("streaming-success-basic-reply-short.txt");
        _master = await MasterProcess.StartAsync(_broker, localWorkers: 0);
        var (code, spy) = await MqttSpy.ConnectAsync("127.0.0.1", _broker.Port, "sniffer");
        Assert.Equal(MQTTnet.MqttClientConnectResultCode.Success, code);
        await using var sniffer = spy!;
        Assert.Equal(MQTTnet.MqttClientSubscribeResultCode.GrantedQoS1, await sniffer.SubscribeAsync("upb/workers/+/tasks"));
        _worker = _master.StartWorker("fetching-worker", new Dictionary<string, string?>
        {
            ["Worker__SimulatedDelay"] = "00:00:00",
            ["Gemini__BaseUrl"] = gemini.BaseUrl.ToString(),
            ["GEMINI_API_KEY"] = "AIzaWORKER-own-key-0b19",
        });
        await _master.WaitForWorkersAsync(1);
        _browser = await ChatClient.ConnectAsync(_master.BaseUrl);

        var taskId = (await _browser.SubmitAsync("Where is Google's headquarters?", BrowserKey)).Str("taskId");
        await Poll.UntilAsync(() => _browser.Answers.Count == 1, TimeSpan.FromSeconds(30), "the answer", () => _master.Process.Tail());

        // The worker called Gemini with the user's key, which it had from the master, not from the broker.
        Assert.Equal(BrowserKey, Assert.Single(gemini.Requests).Header("x-goog-api-key"));
        await Poll.UntilAsync(() => sniffer.Received.Any(m => m.Payload.Contains(taskId, StringComparison.Ordinal)), TimeSpan.FromSeconds(5),
            "the sniffer to have seen the task");
        var task = JsonDocument.Parse(sniffer.Received.Single(m => m.Payload.Contains(taskId, StringComparison.Ordinal)).Payload).RootElement;
        Assert.Equal("", task.Str("api_key"));
        Assert.True(task.GetProperty("api_key_held").GetBoolean());
        Assert.DoesNotContain(sniffer.Received, m => m.Payload.Contains(BrowserKey, StringComparison.Ordinal));

        // Someone holding what the sniffer read (task id, worker id, alias) gets nothing once the task is answered,
        // nor with another worker's id or a guessed alias.
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_master.GrpcPort}");
        var callback = new WorkerCallback.WorkerCallbackClient(channel);
        foreach (var request in new[]
                 {
                     new KeyRequest { TaskId = taskId, WorkerId = "fetching-worker", SessionId = task.Str("session_id") },
                     new KeyRequest { TaskId = taskId, WorkerId = "another-worker", SessionId = task.Str("session_id") },
                     new KeyRequest { TaskId = taskId, WorkerId = "fetching-worker", SessionId = Guid.NewGuid().ToString() },
                 })
        {
            var reply = await callback.FetchKeyAsync(request);
            Assert.False(reply.Found, $"a key was handed out for {request.WorkerId}");
            Assert.Equal("", reply.ApiKey);
            Assert.NotEmpty(reply.Message);
        }

        // A question on the worker's own key holds nothing back.
        var own = (await _browser.SubmitAsync("And with the worker's key?")).Str("taskId");
        await Poll.UntilAsync(() => _browser.Answers.Count == 2, TimeSpan.FromSeconds(30), "the second answer", () => _master.Process.Tail());
        Assert.Equal("AIzaWORKER-own-key-0b19", gemini.Requests[1].Header("x-goog-api-key"));
        await Poll.UntilAsync(() => sniffer.Received.Any(m => m.Payload.Contains(own, StringComparison.Ordinal)), TimeSpan.FromSeconds(5),
            "the sniffer to have seen the second task");
        Assert.False(JsonDocument.Parse(sniffer.Received.Single(m => m.Payload.Contains(own, StringComparison.Ordinal)).Payload)
            .RootElement.TryGetProperty("api_key_held", out _));

        Assert.DoesNotContain(BrowserKey, _master.Process.Output);
        Assert.DoesNotContain(BrowserKey, _worker.Output);
    }
}
