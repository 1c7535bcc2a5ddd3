using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Snapshot;

namespace AiSystem.Master.Persistence;

/// <summary>The snapshot plugin: one row per (persistence id, sequence number) in the <c>snapshot</c> table.</summary>
public sealed class SqlSnapshotStore : SnapshotStore
{
    private readonly ActorSystem _system = Context.System;
    private readonly JournalDatabase _database = SqlPersistence.Get(Context.System).Database;

    protected override async Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        var row = await _database.LoadSnapshotAsync(persistenceId, Range(criteria));
        if (row is null) return null;
        var snapshot = row.Snapshot is null ? null : JournalSerialization.Deserialize(_system, row.Snapshot, row.SerializerId, row.Manifest);
        return new SelectedSnapshot(new SnapshotMetadata(row.PersistenceId, row.SequenceNr, new DateTime(row.Created, DateTimeKind.Utc)), snapshot);
    }

    protected override Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        var (bytes, manifest, serializerId) = JournalSerialization.Serialize(_system, snapshot);
        _database.Health.SnapshotSaved(bytes.Length);
        return _database.SaveSnapshotAsync(new SnapshotRow(metadata.PersistenceId, metadata.SequenceNr, metadata.Timestamp.Ticks, bytes, manifest, serializerId));
    }

    protected override Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken) =>
        _database.DeleteSnapshotAsync(metadata.PersistenceId, metadata.SequenceNr);

    protected override Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken) =>
        _database.DeleteSnapshotsAsync(persistenceId, Range(criteria));

    private static SnapshotRange Range(SnapshotSelectionCriteria criteria) =>
        new(criteria.MaxSequenceNr, criteria.MaxTimeStamp.Ticks, criteria.MinSequenceNr, criteria.MinTimestamp?.Ticks ?? 0);
}
