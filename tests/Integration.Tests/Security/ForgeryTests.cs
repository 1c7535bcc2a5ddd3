using System.Buffers;
using System.Text;
using System.Text.Json;
using AiSystem.Integration.Tests.Infrastructure;
using AiSystem.Messages;
using AiSystem.Messages.Grpc;
using AiSystem.Messages.Mqtt;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet.Protocol;

namespace AiSystem.Integration.Tests.Security;

/// <summary>
/// Results cannot be forged: a task's <c>session_id</c> on MQTT is its assignment's alias, and a result or streamed
/// chunk must echo it. The right worker and task ids, readable from <c>/api/tasks</c> and the logs, are not enough.
/// </summary>
public sealed class ForgeryTests : IAsyncLifetime
{
    private MasterProcess _master = null!;
    private readonly List<ChildProcess> _workers = [];
    private readonly List<ChatClient> _browsers = [];

    public async Task InitializeAsync() => _master = await MasterProcess.StartAsync(null, localWorkers: 0);

    public async Task DisposeAsync()
    {
        foreach (var b in _browsers) await b.DisposeAsync();
        foreach (var w in _workers) await w.DisposeAsync();
        await _master.DisposeAsync();
    }

    private async Task<(string TaskId, string WorkerId)> InFlightAsync(string taskId)
    {
        JsonElement task = default;
        await Poll.UntilAsync(async () =>
        {
            var tasks = JsonDocument.Parse(await _master.Http.GetStringAsync("/api/tasks")).RootElement.EnumerateArray();
            task = tasks.FirstOrDefault(t => t.Str("taskId") == taskId && t.Str("state") == "in-flight");
            return task.ValueKind == JsonValueKind.Object;
        }, TimeSpan.FromSeconds(20), "the task in flight", () => _master.Process.Tail());
        return (task.Str("taskId"), task.Str("workerId"));
    }

    [Fact]
    public async Task A_forger_racing_the_real_worker_with_the_right_ids_is_refused_and_the_real_answer_arrives()
    {
        _workers.Add(_master.StartWorker("honest-worker", new Dictionary<string, string?> { ["Worker__SimulatedDelay"] = "00:00:03" }));
        await _master.WaitForWorkersAsync(1);
        var browser = await ChatClient.ConnectAsync(_master.BaseUrl);
        _browsers.Add(browser);
        var taskId = (await browser.SubmitAsync("What is the real answer?")).Str("taskId");

        // What a stranger reads from the operators' API: the task id and the worker holding it.
        var (id, workerId) = await InFlightAsync(taskId);
        Assert.Equal("honest-worker", workerId);

        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_master.GrpcPort}");
        var callback = new WorkerCallback.WorkerCallbackClient(channel);
        TaskResult Forged(string sessionId, string taskIdField) => new()
        {
            WorkerId = workerId, TaskId = taskIdField, SessionId = sessionId, OriginalQuery = "What is the real answer?",
            AiResponse = "FORGED: re-enter your key at evil.example", QueryTimestamp = 1, CompletionTimestamp = 2,
        };
        // With the real session id (the browser's own), a guessed one, none, and the old workers' form without a task id.
        foreach (var forged in new[] { Forged(browser.SessionId, id), Forged(Guid.NewGuid().ToString(), id), Forged("", id), Forged(browser.SessionId, "") })
        {
            var ack = await callback.SendResultAsync(forged);
            Assert.False(ack.Success, $"a forged result was accepted: {ack.Message}");
        }
        // A forged stream of text, by Deliver, with the same ids.
        using (var deliver = callback.Deliver())
        {
            await deliver.RequestStream.WriteAsync(new TaskChunk
            {
                TaskId = id, WorkerId = workerId, SessionId = browser.SessionId, Attempt = 1, Sequence = 1, Text = "FORGED streamed text",
            });
            await deliver.RequestStream.CompleteAsync();
            while (await deliver.ResponseStream.MoveNext(CancellationToken.None)) { }
        }

        await Poll.UntilAsync(() => browser.Answers.Count == 1, TimeSpan.FromSeconds(30), "the real answer", () => _master.Process.Tail());
        var answer = Assert.Single(browser.Answers);
        Assert.DoesNotContain("FORGED", answer.Str("response"));
        Assert.Equal("honest-worker", answer.Str("workerId"));
        Assert.DoesNotContain(browser.Payloads("AiResponseChunk"), c => c.GetRawText().Contains("FORGED", StringComparison.Ordinal));
        Assert.Empty(browser.Payloads("TaskFailed"));
    }

    [Fact]
    public async Task A_worker_of_the_original_protocol_echoes_its_alias_without_a_task_id_and_never_sees_the_real_session_id()
    {
        // The original Python worker, as it speaks: its own client id, no credentials, a register, its own task topic;
        // it answers by SendResult with session_id and query_timestamp echoed from the task, and no task_id.
        var topics = new Topics();
        var tasks = new List<JsonElement>();
        var grpc = GrpcChannel.ForAddress($"http://127.0.0.1:{_master.GrpcPort}");
        var callback = new WorkerCallback.WorkerCallbackClient(grpc);
        var acks = new List<ResultAck>();
        await using var mqtt = new MqttConnection(new MqttOptions { Host = "127.0.0.1", Port = _master.MqttPort },
            new MqttConnectionSettings("python-worker-1", [(topics.TasksFor("python-worker-1"), MqttQualityOfServiceLevel.AtLeastOnce)]),
            NullLogger.Instance);
        mqtt.MessageReceived = async (_, payload) =>
        {
            var task = JsonDocument.Parse(payload.ToArray()).RootElement.Clone();
            lock (tasks) tasks.Add(task);
            var ack = await callback.SendResultAsync(new TaskResult
            {
                WorkerId = "python-worker-1", SessionId = task.Str("session_id"), OriginalQuery = task.Str("query"),
                AiResponse = "Respuesta de Python", QueryTimestamp = task.GetProperty("timestamp").GetInt64(),
                CompletionTimestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), ProcessingTimeMs = 5,
            });
            lock (acks) acks.Add(ack);
        };
        mqtt.Start();
        await mqtt.FirstConnect.WaitAsync(TimeSpan.FromSeconds(10));
        await mqtt.PublishAsync(topics.Register, Encoding.UTF8.GetBytes(
            $$"""{"worker_id":"python-worker-1","language":"Python","status":"idle","timestamp":{{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}}}"""),
            MqttQualityOfServiceLevel.AtLeastOnce);
        await _master.WaitForWorkersAsync(1);

        var browser = await ChatClient.ConnectAsync(_master.BaseUrl);
        _browsers.Add(browser);
        for (var i = 0; i < 3; i++) await browser.SubmitAsync($"¿Qué es Docker Swarm? {i}");
        await Poll.UntilAsync(() => browser.Answers.Count == 3, TimeSpan.FromSeconds(30), "three answers from the Python worker", () => _master.Process.Tail());

        Assert.All(browser.Answers, a => Assert.Equal(("Respuesta de Python", "python-worker-1"), (a.Str("response"), a.Str("workerId"))));
        lock (acks) Assert.All(acks, a => Assert.True(a.Success, a.Message));
        lock (tasks)
        {
            Assert.Equal(3, tasks.Count);
            // Each assignment has its own alias, and none is the session id the browser holds.
            Assert.Equal(3, tasks.Select(t => t.Str("session_id")).Distinct().Count());
            Assert.All(tasks, t => Assert.NotEqual(browser.SessionId, t.Str("session_id")));
            Assert.All(tasks, t => Assert.True(Guid.TryParse(t.Str("session_id"), out _)));
        }
        Assert.DoesNotContain(browser.SessionId, string.Join("\n", tasks.Select(t => t.GetRawText())));
    }
}
