using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;

namespace AiSystem.Master.Persistence;

/// <summary>
/// To the journal plugin (an actor's <c>Journal</c>): delete every row of <paramref name="PersistenceId"/>, its events,
/// tags and snapshots, in one transaction (<see cref="JournalDatabase.PurgeAsync"/>). Akka's <c>DeleteMessages</c>
/// cannot do this: it must keep the highest sequence number, so our journal keeps that row. Replies
/// <see cref="PersistenceIdPurged"/>, or <see cref="PersistenceIdPurgeFailed"/> when nothing was deleted.
/// </summary>
public sealed record PurgePersistenceId(string PersistenceId);

public sealed record PersistenceIdPurged(string PersistenceId);

public sealed record PersistenceIdPurgeFailed(string PersistenceId, Exception Cause);

/// <summary>
/// The journal plugin: serializes on the journal actor's thread, hands the rows to the group-commit writer and
/// waits. A payload that cannot be serialized rejects only its own AtomicWrite (OnPersistRejected); a database
/// failure fails the write (OnPersistFailure). Tags are neither written nor read.
/// </summary>
public sealed class SqlJournal : AsyncWriteJournal
{
    private readonly ActorSystem _system = Context.System;
    private readonly JournalDatabase _database = SqlPersistence.Get(Context.System).Database;

    protected override async Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var writes = messages as IReadOnlyList<AtomicWrite> ?? messages.ToList();
        var now = DateTime.UtcNow.Ticks;
        var rows = new List<JournalRow>(writes.Count);
        Exception?[]? rejections = null;
        for (var i = 0; i < writes.Count; i++)
        {
            var events = (IImmutableList<IPersistentRepresentation>)writes[i].Payload;
            var start = rows.Count;
            try
            {
                foreach (var persistent in events) rows.Add(JournalSerialization.ToRow(_system, persistent, now));
            }
            catch (Exception error)
            {
                // An AtomicWrite is all or nothing: drop the rows of its events that did serialize.
                rows.RemoveRange(start, rows.Count - start);
                (rejections ??= new Exception?[writes.Count])[i] = error;
            }
        }
        if (rows.Count > 0) await _database.WriteAsync(rows);
        return rejections is null ? null! : ImmutableList.Create(rejections);
    }

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback) =>
        _database.ReplayAsync(persistenceId, fromSequenceNr, toSequenceNr, max, row => recoveryCallback(JournalSerialization.ToPersistent(_system, row)));

    // DeleteMessagesTo never deletes the highest row (it stays as a marker), so this stays right after it; only a purge
    // (PurgePersistenceId) takes that row too, and the persistence id then starts over at 1.
    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken) =>
        _database.HighestSequenceNrAsync(persistenceId);

    /// <summary>Akka's journal health check, from what the writer reports: unhealthy while write batches keep failing.</summary>
    public override Task<PersistenceHealthCheckResult> CheckHealthAsync(CancellationToken cancellationToken)
    {
        var health = _database.Health;
        return Task.FromResult(health.ConsecutiveFailedBatches == 0
            ? new PersistenceHealthCheckResult(PersistenceHealthStatus.Healthy, $"{health.QueuedRows} row(s) waiting")
            : new PersistenceHealthCheckResult(PersistenceHealthStatus.Unhealthy,
                $"{health.ConsecutiveFailedBatches} write batch(es) failed in a row, the last with {health.LastError?.Type}: {health.LastError?.Message}"));
    }

    protected override bool ReceivePluginInternal(object message)
    {
        if (message is not PurgePersistenceId purge) return false;
        var id = purge.PersistenceId;
        _database.PurgeAsync(id).PipeTo(Sender, Self, () => new PersistenceIdPurged(id), error => new PersistenceIdPurgeFailed(id, error));
        return true;
    }

    protected override Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken) =>
        _database.DeleteToAsync(persistenceId, toSequenceNr);
}
