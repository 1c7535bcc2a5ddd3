using System.Collections.Concurrent;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Sessions;
using AiSystem.Messages;
using AiSystem.Messages.Grpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiSystem.Master.Tests;

public class DispatcherActorTests : TestKit
{
    /// <summary>Stands in for the MQTT edge: records what would be published.</summary>
    private sealed class RecordingPublisher : ITaskPublisher
    {
        public ConcurrentQueue<TaskMessage> Published { get; } = new();

        public Task PublishTaskAsync(TaskMessage task, CancellationToken cancellationToken = default)
        {
            Published.Enqueue(task);
            return Task.CompletedTask;
        }
    }

    private readonly RecordingPublisher _publisher = new();
    private readonly Akka.TestKit.TestProbe _sessions;
    private readonly IActorRef _dispatcher;

    // The dispatcher journals what it accepts; the tests use Akka's in-memory journal.
    private const string InMemoryPersistence = """
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        """;

    public DispatcherActorTests() : base(InMemoryPersistence)
    {
        _sessions = CreateTestProbe();
        var settings = new DispatcherSettings("master:50051", new DispatchPolicy(100, TimeSpan.FromMinutes(2), 3));
        _dispatcher = Sys.ActorOf(Props.Create(() =>
            new DispatcherActor(_publisher, _sessions.Ref, settings, new AiSystem.Master.Observability.MasterMetrics(), NullLogger<DispatcherActor>.Instance)));
    }

    private static WorkerRegistered Register(string id, int capacity = 1) =>
        new(new WorkerRegistration { WorkerId = id, Status = "idle", Timestamp = 1, Capacity = capacity, Language = "CSharp" });

    [Fact]
    public async Task Queued_task_is_published_to_the_worker_that_registers_and_its_session_is_told()
    {
        var task = new DispatchTask("t1", "s1", "hello", "key-from-browser", 42);
        _dispatcher.Tell(new SubmitTask(task), TestActor);
        var decision = ExpectMsg<SubmitReply>();
        Assert.Equal((SubmitStatus.Queued, 1), (decision.Status, decision.Position));
        var queued = _sessions.ExpectMsg<SessionEnvelope>();
        Assert.Equal(new TaskQueuedNotice("t1", 1), queued.Message);

        _dispatcher.Tell(Register("w1"));

        var assigned = _sessions.ExpectMsg<SessionEnvelope>();
        Assert.Equal("s1", assigned.SessionId);
        Assert.Equal(new TaskAssignedNotice("t1", "w1", 1), assigned.Message);
        await AwaitConditionAsync(() => Task.FromResult(_publisher.Published.Count == 1));
        var published = Assert.Single(_publisher.Published);
        Assert.Equal(("w1", "s1", "hello", "key-from-browser", "master:50051", "t1", 1),
            (published.WorkerId, published.SessionId, published.Query, published.ApiKey, published.GrpcEndpoint, published.TaskId, published.Attempt));
        Assert.True(published.Deadline > 42);
    }

    [Fact]
    public void Streamed_text_reaches_the_session_only_from_the_worker_and_attempt_that_hold_the_task()
    {
        _dispatcher.Tell(Register("w1"));
        _dispatcher.Tell(new SubmitTask(new DispatchTask("t1", "s1", "hello", "", 42)), TestActor);
        ExpectMsg<SubmitReply>();
        _sessions.ExpectMsg<SessionEnvelope>(); // assigned

        _dispatcher.Tell(new TaskProgress("t1", "intruder", 1, 0, "forged"));
        _dispatcher.Tell(new TaskProgress("t1", "w1", 7, 0, "another attempt"));
        _dispatcher.Tell(new TaskProgress("t1", "w1", 1, 0, "Hel"));
        _dispatcher.Tell(new TaskProgress("t1", "w1", 1, 3, "lo"));

        Assert.Equal(new SessionEnvelope("s1", new TaskProgressNotice("t1", 1, 0, "Hel")), _sessions.ExpectMsg<SessionEnvelope>());
        Assert.Equal(new SessionEnvelope("s1", new TaskProgressNotice("t1", 1, 3, "lo")), _sessions.ExpectMsg<SessionEnvelope>());

        _dispatcher.Tell(new ResultReceived(new TaskResult { WorkerId = "w1", TaskId = "t1", SessionId = "s1", AiResponse = "Hello" }), TestActor);
        Assert.True(ExpectMsg<ResultAck>().Success);
        Assert.IsType<TaskOutcomeNotice>(_sessions.ExpectMsg<SessionEnvelope>().Message);
        _dispatcher.Tell(new TaskProgress("t1", "w1", 1, 5, " late"));   // answered: nothing streams any more
        _sessions.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_result_is_acknowledged_and_reaches_the_session_a_forged_one_is_refused()
    {
        _dispatcher.Tell(Register("w1"));
        _dispatcher.Tell(new SubmitTask(new DispatchTask("t1", "s1", "hello", "", 42)), TestActor);
        ExpectMsg<SubmitReply>();
        _sessions.ExpectMsg<SessionEnvelope>(); // assigned

        _dispatcher.Tell(new ResultReceived(new TaskResult { WorkerId = "intruder", TaskId = "t1", SessionId = "s1", AiResponse = "x" }), TestActor);
        Assert.False(ExpectMsg<ResultAck>().Success);
        _sessions.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        _dispatcher.Tell(new ResultReceived(new TaskResult { WorkerId = "w1", TaskId = "t1", SessionId = "s1", AiResponse = "hi!" }), TestActor);
        Assert.True(ExpectMsg<ResultAck>().Success);
        var done = Assert.IsType<TaskOutcomeNotice>(_sessions.ExpectMsg<SessionEnvelope>().Message);
        Assert.Equal(("hi!", "hello", "w1"), (done.Outcome.Response, done.Outcome.Query, done.Outcome.WorkerId));
    }

    [Fact]
    public void Snapshot_lists_workers_and_tasks()
    {
        _dispatcher.Tell(Register("w1", 2));
        _dispatcher.Tell(new SubmitTask(new DispatchTask("t1", "s1", "q", "", 1)), TestActor);
        ExpectMsg<SubmitReply>();
        _dispatcher.Tell(GetDispatchSnapshot.Instance, TestActor);
        var snapshot = ExpectMsg<DispatchSnapshot>();
        var worker = Assert.Single(snapshot.Workers);
        Assert.Equal(("w1", 2, 1, "busy"), (worker.Id, worker.Capacity, worker.ActiveTasks, worker.Status));
        Assert.Equal(("t1", "in-flight", "w1"), (snapshot.Tasks[0].TaskId, snapshot.Tasks[0].State, snapshot.Tasks[0].WorkerId));
    }

    [Fact]
    public void A_restarted_dispatcher_recovers_its_queue_its_tasks_in_flight_and_undelivered_outcomes()
    {
        _dispatcher.Tell(Register("w1"));
        foreach (var id in new[] { "t1", "t2", "t3" })
        {
            _dispatcher.Tell(new SubmitTask(new DispatchTask(id, "s1", "q-" + id, "secret-key", 1)), TestActor);
            ExpectMsg<SubmitReply>();
        }
        // t1 is in flight on w1 and gets its answer; t2 is in flight? no: w1 has one slot, so t2 and t3 wait.
        _dispatcher.Tell(new ResultReceived(new TaskResult { WorkerId = "w1", TaskId = "t1", SessionId = "s1", AiResponse = "a1" }), TestActor);
        Assert.True(ExpectMsg<ResultAck>().Success);
        _sessions.ReceiveWhile<object>(TimeSpan.FromMilliseconds(300), m => m);
        Watch(_dispatcher);
        Sys.Stop(_dispatcher);
        ExpectTerminated(_dispatcher);

        var settings = new DispatcherSettings("master:50051", new DispatchPolicy(100, TimeSpan.FromMinutes(2), 3));
        var again = Sys.ActorOf(Props.Create(() =>
            new DispatcherActor(_publisher, _sessions.Ref, settings, new AiSystem.Master.Observability.MasterMetrics(), NullLogger<DispatcherActor>.Instance)));

        // The outcome of t1 was never confirmed by its session: it is delivered again (the session stores it once).
        var redelivered = Assert.IsType<TaskOutcomeNotice>(_sessions.ExpectMsg<SessionEnvelope>().Message);
        Assert.Equal(("t1", "a1"), (redelivered.Outcome.TaskId, redelivered.Outcome.Response));
        again.Tell(new OutcomeStored("t1"));

        again.Tell(GetDispatchSnapshot.Instance, TestActor);
        var snapshot = ExpectMsg<DispatchSnapshot>();
        Assert.Equal(("t2", "in-flight", "w1"), (snapshot.Tasks.Single(t => t.TaskId == "t2").TaskId, snapshot.Tasks.Single(t => t.TaskId == "t2").State, snapshot.Tasks.Single(t => t.TaskId == "t2").WorkerId));
        Assert.Equal("queued", snapshot.Tasks.Single(t => t.TaskId == "t3").State);
        Assert.DoesNotContain(snapshot.Tasks, t => t.TaskId == "t1");

        // w1's late result for t2 is still accepted (it owns t2 after the restart), and a second one for t1 is a duplicate.
        again.Tell(new ResultReceived(new TaskResult { WorkerId = "w1", TaskId = "t2", SessionId = "s1", AiResponse = "a2" }), TestActor);
        Assert.True(ExpectMsg<ResultAck>().Success);
        again.Tell(new ResultReceived(new TaskResult { WorkerId = "w1", TaskId = "t1", SessionId = "s1", AiResponse = "again" }), TestActor);
        Assert.Contains("duplicate", ExpectMsg<ResultAck>().Message);
    }
}
