using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Persistence;
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

        public ConcurrentQueue<CancelMessage> Cancels { get; } = new();

        public Task PublishCancelAsync(CancelMessage cancel, CancellationToken cancellationToken = default)
        {
            Cancels.Enqueue(cancel);
            return Task.CompletedTask;
        }
    }

    /// <summary>Stands in for the journal: a position, and the sessions written after any position.</summary>
    private sealed class FakeJournal : IJournalIndex
    {
        public long Highest { get; set; } = 100;
        public List<string> WrittenAfter { get; } = [];

        public Task<long> HighestOrderingAsync(CancellationToken cancellationToken = default) => Task.FromResult(Highest);

        public Task<IReadOnlyList<string>> PersistenceIdsWrittenAfterAsync(long ordering, string prefix, int limit,
            CancellationToken cancellationToken = default) => Task.FromResult<IReadOnlyList<string>>([.. WrittenAfter]);
    }

    private readonly RecordingPublisher _publisher = new();
    private readonly FakeJournal _journal = new();
    private readonly Akka.TestKit.TestProbe _sessions;
    private readonly IActorRef _dispatcher;

    private const string InMemoryPersistence = """
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        """;

    public DispatcherActorTests() : base(InMemoryPersistence)
    {
        _sessions = CreateTestProbe();
        _dispatcher = StartDispatcher();
    }

    private IActorRef StartDispatcher()
    {
        var settings = new DispatcherSettings("master:50051", new DispatchPolicy(100, TimeSpan.FromMinutes(2), 3), TestKeys.Shared);
        return Sys.ActorOf(Props.Create(() => new DispatcherActor(_publisher, _sessions.Ref, _journal, settings,
            new AiSystem.Master.Observability.MasterMetrics(), NullLogger<DispatcherActor>.Instance)));
    }

    private static RegisterWorker Register(string id, int capacity = 1) =>
        new(new WorkerRegistration { WorkerId = id, Status = "idle", Timestamp = 1, Capacity = capacity, Language = "CSharp" });

    private static CompleteTask Result(string workerId, string taskId, string answer = "hi!") =>
        new(new WorkerResult(workerId, taskId, TestKeys.Alias(taskId, workerId), 42, answer, "", false, "simulated", 5, 100));

    [Fact]
    public async Task Queued_task_is_published_to_the_worker_that_registers_and_its_session_is_told()
    {
        _dispatcher.Tell(new SubmitTask(new TaskRequest("t1", "s1", "hello", "key-from-browser", 42)), _sessions.Ref);
        var admitted = _sessions.ExpectMsg<TaskAdmitted>();
        Assert.Equal(("t1", "queued", 1), (admitted.TaskId, admitted.Status.Status, admitted.Status.Position));

        _dispatcher.Tell(Register("w1"));

        var assigned = _sessions.ExpectMsg<TaskStatusChanged>();
        Assert.Equal(("s1", "t1", "assigned", "w1", 1), (assigned.SessionId, assigned.TaskId, assigned.Status.Status, assigned.Status.WorkerId, assigned.Status.Attempt));
        await AwaitConditionAsync(() => Task.FromResult(_publisher.Published.Count == 1));
        var published = Assert.Single(_publisher.Published);
        // The task carries its assignment's alias as session_id, never the real session id.
        Assert.Equal(("w1", TestKeys.Alias("t1", "w1"), "hello", "key-from-browser", "master:50051", "t1", 1),
            (published.WorkerId, published.SessionId, published.Query, published.ApiKey, published.GrpcEndpoint, published.TaskId, published.Attempt));
        Assert.True(published.Deadline > 42);
    }

    [Fact]
    public void Streamed_text_reaches_the_session_only_from_the_worker_and_attempt_that_hold_the_task()
    {
        _dispatcher.Tell(Register("w1"));
        _dispatcher.Tell(new SubmitTask(new TaskRequest("t1", "s1", "hello", "", 42)), _sessions.Ref);
        Assert.Equal("assigned", _sessions.ExpectMsg<TaskAdmitted>().Status.Status);

        _dispatcher.Tell(new StreamTaskText("t1", "intruder", TestKeys.Alias("t1", "intruder"), 1, 0, "forged"));
        _dispatcher.Tell(new StreamTaskText("t1", "w1", "s1", 1, 0, "forged with the right ids"));
        _dispatcher.Tell(new StreamTaskText("t1", "w1", TestKeys.Alias("t1", "w1"), 7, 0, "another attempt"));
        _dispatcher.Tell(new StreamTaskText("t1", "w1", TestKeys.Alias("t1", "w1"), 1, 0, "Hel"));
        _dispatcher.Tell(new StreamTaskText("t1", "w1", TestKeys.Alias("t1", "w1"), 1, 3, "lo"));

        Assert.Equal(new TaskTextStreamed("s1", "t1", 1, 0, "Hel"), _sessions.ExpectMsg<TaskTextStreamed>());
        Assert.Equal(new TaskTextStreamed("s1", "t1", 1, 3, "lo"), _sessions.ExpectMsg<TaskTextStreamed>());

        _dispatcher.Tell(Result("w1", "t1", "Hello"), TestActor);
        _sessions.ExpectMsg<RecordOutcome>();
        _dispatcher.Tell(new StreamTaskText("t1", "w1", TestKeys.Alias("t1", "w1"), 1, 5, " late")); // answered: nothing streams any more
        _sessions.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_worker_hears_its_result_accepted_only_once_the_session_stored_it_and_a_forged_one_is_refused()
    {
        _dispatcher.Tell(Register("w1"));
        _dispatcher.Tell(new SubmitTask(new TaskRequest("t1", "s1", "hello", "", 42)), _sessions.Ref);
        _sessions.ExpectMsg<TaskAdmitted>();

        _dispatcher.Tell(Result("intruder", "t1", "x"), TestActor);
        Assert.False(ExpectMsg<ResultAck>().Success);
        _sessions.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        _dispatcher.Tell(Result("w1", "t1"), TestActor);
        var record = _sessions.ExpectMsg<RecordOutcome>();
        Assert.Equal(("s1", "hi!", "w1"), (record.SessionId, record.Outcome.Answer, record.Outcome.WorkerId));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // not stored yet: no ack

        _dispatcher.Tell(new OutcomeStored("t1"), _sessions.Ref);
        Assert.True(ExpectMsg<ResultAck>().Success);
        _dispatcher.Tell(Result("w1", "t1", "again"), TestActor);
        Assert.Contains("duplicate", ExpectMsg<ResultAck>().Message);
    }

    [Fact]
    public void An_outcome_its_session_does_not_confirm_is_sent_again()
    {
        _dispatcher.Tell(Register("w1"));
        _dispatcher.Tell(new SubmitTask(new TaskRequest("t1", "s1", "hello", "", 42)), _sessions.Ref);
        _sessions.ExpectMsg<TaskAdmitted>();
        _dispatcher.Tell(Result("w1", "t1"), TestActor);
        _sessions.ExpectMsg<RecordOutcome>();
        var again = _sessions.ExpectMsg<RecordOutcome>(DispatchPolicy.OutcomeResendAfter + TimeSpan.FromSeconds(2));
        Assert.Equal("t1", again.Outcome.TaskId);
    }

    [Fact]
    public void The_view_lists_workers_and_tasks()
    {
        _dispatcher.Tell(Register("w1", 2));
        _dispatcher.Tell(new SubmitTask(new TaskRequest("t1", "s1", "q", "", 1)), _sessions.Ref);
        _sessions.ExpectMsg<TaskAdmitted>();
        _dispatcher.Tell(GetDispatchView.Instance, TestActor);
        var view = ExpectMsg<DispatchView>();
        var worker = Assert.Single(view.Workers);
        Assert.Equal(("w1", 2, 1, "busy"), (worker.Id, worker.Capacity, worker.ActiveTasks, worker.Status));
        Assert.Equal(("t1", "in-flight", "w1"), (view.Tasks[0].TaskId, view.Tasks[0].State, view.Tasks[0].WorkerId));
    }

    [Fact]
    public async Task A_restarted_dispatcher_wakes_the_sessions_of_its_snapshot_and_of_the_journal_after_it()
    {
        _dispatcher.Tell(Register("w1"));
        foreach (var id in new[] { "t1", "t2" })
        {
            _dispatcher.Tell(new SubmitTask(new TaskRequest(id, "s1", "q-" + id, "secret-key", 1)), _sessions.Ref);
            _sessions.ExpectMsg<TaskAdmitted>();
        }
        _dispatcher.Tell(SnapshotTick.Instance);
        await AwaitConditionAsync(async () => await SavedSnapshot() is { Tasks.Count: 2 });
        Watch(_dispatcher);
        Sys.Stop(_dispatcher);
        ExpectTerminated(_dispatcher);
        _sessions.ReceiveWhile<object>(TimeSpan.FromMilliseconds(200), m => m);

        _journal.WrittenAfter.Add("session-s2"); // asked after the snapshot
        var again = StartDispatcher();

        var woken = new[] { _sessions.ExpectMsg<ResubmitOpenTasks>(), _sessions.ExpectMsg<ResubmitOpenTasks>() };
        Assert.Equal(["s1", "s2"], woken.Select(w => w.SessionId).Order());
        again.Tell(GetDispatchView.Instance, TestActor);
        var view = ExpectMsg<DispatchView>();
        Assert.Equal(("in-flight", "w1"), (view.Tasks.Single(t => t.TaskId == "t1").State, view.Tasks.Single(t => t.TaskId == "t1").WorkerId));
        Assert.Equal("held", view.Tasks.Single(t => t.TaskId == "t2").State);

        // w1's late result for t1 is accepted after the restart: it still owns t1.
        again.Tell(Result("w1", "t1"), TestActor);
        Assert.Equal("t1", _sessions.ExpectMsg<RecordOutcome>().Outcome.TaskId);
    }

    private async Task<DispatcherSnapshot?> SavedSnapshot()
    {
        var store = Akka.Persistence.Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        var loaded = await store.Ask<LoadSnapshotResult>(new LoadSnapshot(DispatcherActor.PersistenceIdValue, SnapshotSelectionCriteria.Latest, long.MaxValue));
        return loaded.Snapshot?.Snapshot as DispatcherSnapshot;
    }
}
