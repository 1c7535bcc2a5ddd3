using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Persistence;

namespace AiSystem.Master.Tests.Persistence;

// The commands and replies of a tiny persistent actor that the journal tests drive.
public sealed record PersistEvents(IReadOnlyList<object> Events, bool Async = false);
public sealed record EventsPersisted(long LastSequenceNr);
public sealed record GetState
{
    public static readonly GetState Instance = new();
}
public sealed record ActorState(IReadOnlyList<object> Events, long LastSequenceNr, object? Snapshot, long SnapshotSequenceNr);
public sealed record SaveState(object State);
public sealed record StateSaved(long SequenceNr);
public sealed record DeleteEventsTo(long SequenceNr);
public sealed record EventsDeleted(long SequenceNr);
public sealed record DeleteSnapshotAt(long SequenceNr);
public sealed record DeleteSnapshotsTo(long MaxSequenceNr);
public sealed record SnapshotsDeleted;

// What went wrong, as the actor heard it from Akka.Persistence.
public sealed record PersistRejected(object Event, long SequenceNr, Exception Cause);
public sealed record PersistFailed(object Event, long SequenceNr, Exception Cause);
public sealed record RecoveryFailed(Exception Cause);

/// <summary>Keeps every event it persisted or recovered, in order; reports failures to <c>notes</c>.</summary>
public sealed class JournalTestActor : ReceivePersistentActor
{
    private readonly ConcurrentQueue<object> _notes;
    private readonly List<object> _events = [];
    private object? _snapshot;
    private long _snapshotSequenceNr;

    private readonly Recovery _recovery;

    public override string PersistenceId { get; }

    public override Recovery Recovery => _recovery;

    public static Props Props(string persistenceId, ConcurrentQueue<object> notes, Recovery? recovery = null) =>
        Akka.Actor.Props.Create(() => new JournalTestActor(persistenceId, notes, recovery ?? new Recovery()));

    public JournalTestActor(string persistenceId, ConcurrentQueue<object> notes, Recovery recovery)
    {
        PersistenceId = persistenceId;
        _notes = notes;
        _recovery = recovery;

        Recover<SnapshotOffer>(offer =>
        {
            _snapshot = offer.Snapshot;
            _snapshotSequenceNr = offer.Metadata.SequenceNr;
        });
        Recover<RecoveryCompleted>(_ => { });
        Recover<object>(e => _events.Add(e));

        Command<PersistEvents>(p =>
        {
            var sender = Sender;
            var left = p.Events.Count;
            void Handle(object e)
            {
                _events.Add(e);
                if (--left == 0) sender.Tell(new EventsPersisted(LastSequenceNr));
            }
            if (p.Async && p.Events.Count == 1) PersistAsync(p.Events[0], Handle);
            else if (p.Async) PersistAllAsync(p.Events, Handle);
            else PersistAll(p.Events, Handle);
        });
        Command<GetState>(_ => Sender.Tell(new ActorState(_events.ToList(), LastSequenceNr, _snapshot, _snapshotSequenceNr)));
        Command<SaveState>(s =>
        {
            SaveSnapshot(s.State);
            var sender = Sender;
            BecomeStacked(() =>
            {
                Command<SaveSnapshotSuccess>(ok => { sender.Tell(new StateSaved(ok.Metadata.SequenceNr)); Stash.UnstashAll(); UnbecomeStacked(); });
                Command<SaveSnapshotFailure>(f => { sender.Tell(new Status.Failure(f.Cause)); Stash.UnstashAll(); UnbecomeStacked(); });
                CommandAny(_ => Stash.Stash());
            });
        });
        Command<DeleteEventsTo>(d =>
        {
            DeleteMessages(d.SequenceNr);
            var sender = Sender;
            BecomeStacked(() =>
            {
                Command<DeleteMessagesSuccess>(ok => { sender.Tell(new EventsDeleted(ok.ToSequenceNr)); Stash.UnstashAll(); UnbecomeStacked(); });
                Command<DeleteMessagesFailure>(f => { sender.Tell(new Status.Failure(f.Cause)); Stash.UnstashAll(); UnbecomeStacked(); });
                CommandAny(_ => Stash.Stash());
            });
        });
        Command<DeleteSnapshotAt>(d => { DeleteSnapshot(d.SequenceNr); AwaitSnapshotDeletion(Sender); });
        Command<DeleteSnapshotsTo>(d => { DeleteSnapshots(new SnapshotSelectionCriteria(d.MaxSequenceNr)); AwaitSnapshotDeletion(Sender); });
    }

    private void AwaitSnapshotDeletion(IActorRef sender) => BecomeStacked(() =>
    {
        Command<DeleteSnapshotSuccess>(_ => Done());
        Command<DeleteSnapshotsSuccess>(_ => Done());
        Command<DeleteSnapshotFailure>(f => { sender.Tell(new Status.Failure(f.Cause)); Stash.UnstashAll(); UnbecomeStacked(); });
        Command<DeleteSnapshotsFailure>(f => { sender.Tell(new Status.Failure(f.Cause)); Stash.UnstashAll(); UnbecomeStacked(); });
        CommandAny(_ => Stash.Stash());
        void Done()
        {
            sender.Tell(new SnapshotsDeleted());
            Stash.UnstashAll();
            UnbecomeStacked();
        }
    });

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _notes.Enqueue(new PersistRejected(@event, sequenceNr, cause));
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _notes.Enqueue(new PersistFailed(@event, sequenceNr, cause));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _notes.Enqueue(new RecoveryFailed(reason));
        base.OnRecoveryFailure(reason, message);
    }
}

/// <summary>Fails to serialize on purpose: the payload of a write that must be rejected alone.</summary>
public sealed record Unserializable(string Text);

public sealed class ThrowingSerializer(ExtendedActorSystem system) : Akka.Serialization.Serializer(system)
{
    public override int Identifier => 7_401;
    public override bool IncludeManifest => false;
    public override byte[] ToBinary(object obj) => throw new InvalidOperationException("This payload refuses to be serialized.");
    public override object FromBinary(byte[] bytes, Type? type) => throw new InvalidOperationException("Never written.");
}
