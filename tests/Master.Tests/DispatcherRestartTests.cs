using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Snapshot;
using Akka.TestKit.Xunit2;
using AiSystem.Master.Dispatch;
using AiSystem.Messages.Grpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiSystem.Master.Tests;

/// <summary>A snapshot store whose first loads fail, as when the database is not reachable yet.</summary>
public sealed class UnreachableAtFirstSnapshotStore : SnapshotStore
{
    public static int FailuresLeft;
    public static int Loads;

    protected override Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Loads);
        return Interlocked.Decrement(ref FailuresLeft) >= 0
            ? Task.FromException<SelectedSnapshot?>(new InvalidOperationException("Name or service not known"))
            : Task.FromResult<SelectedSnapshot?>(null);
    }

    protected override Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken) => Task.CompletedTask;
    protected override Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken) => Task.CompletedTask;
    protected override Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken) => Task.CompletedTask;
}

public class DispatcherRestartTests() : TestKit("""
    akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
    akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.unreachable-at-first"
    akka.persistence.snapshot-store.unreachable-at-first.class = "AiSystem.Master.Tests.UnreachableAtFirstSnapshotStore, AiSystem.Master.Tests"
    """)
{
    private sealed class NoPublisher : ITaskPublisher
    {
        public Task PublishTaskAsync(AiSystem.Messages.TaskMessage task, CancellationToken cancellationToken = default) => Task.CompletedTask;
        public Task PublishCancelAsync(AiSystem.Messages.CancelMessage cancel, CancellationToken cancellationToken = default) => Task.CompletedTask;
    }

    private sealed class EmptyJournal : IJournalIndex
    {
        public Task<long> HighestOrderingAsync(CancellationToken cancellationToken = default) => Task.FromResult(0L);

        public Task<IReadOnlyList<string>> PersistenceIdsWrittenAfterAsync(long ordering, string prefix, int limit,
            CancellationToken cancellationToken = default) => Task.FromResult<IReadOnlyList<string>>([]);
    }

    [Fact]
    public void A_dispatcher_whose_recovery_fails_is_started_again_and_then_answers()
    {
        UnreachableAtFirstSnapshotStore.FailuresLeft = 3;
        var settings = new DispatcherSettings("master:50051", new DispatchPolicy(100, TimeSpan.FromMinutes(2), 3), TestKeys.Shared);
        var dispatcher = Sys.ActorOf(DispatcherActorHosting.Supervised(Props.Create(() => new DispatcherActor(new NoPublisher(),
            CreateTestProbe().Ref, new EmptyJournal(), settings, new AiSystem.Master.Observability.MasterMetrics(),
            NullLogger<DispatcherActor>.Instance))));

        // Three recoveries fail (each stops the dispatcher); the supervisor starts it again each time, with backoff.
        AwaitAssert(() =>
        {
            dispatcher.Tell(DispatcherPing.Instance);
            var pong = ExpectMsg<DispatcherPong>(TimeSpan.FromMilliseconds(300));
            Assert.Equal(0, pong.Tasks);
        }, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(100));
        Assert.True(UnreachableAtFirstSnapshotStore.Loads >= 4, $"{UnreachableAtFirstSnapshotStore.Loads} loads");

        // And it works: a question is admitted.
        dispatcher.Tell(new SubmitTask(new TaskRequest("task-1", "session-1", "What now?", "", 42)));
        var admitted = ExpectMsg<AiSystem.Master.Sessions.TaskAdmitted>(TimeSpan.FromSeconds(5));
        Assert.Equal("task-1", admitted.TaskId);
    }
}
