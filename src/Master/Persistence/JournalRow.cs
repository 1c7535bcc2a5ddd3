namespace AiSystem.Master.Persistence;

/// <summary>One row of the <c>journal</c> table: an event's payload as its serializer wrote it.</summary>
public sealed record JournalRow(
    string PersistenceId,
    long SequenceNr,
    long Created,
    byte[] Message,
    string? Manifest,
    int? Identifier,
    string? WriterUuid,
    bool Deleted = false,
    long Ordering = 0);

/// <summary>One row of the <c>snapshot</c> table.</summary>
public sealed record SnapshotRow(string PersistenceId, long SequenceNr, long Created, byte[]? Snapshot, string? Manifest, int? SerializerId);

/// <summary>Which snapshots a load or delete means (Akka's SnapshotSelectionCriteria as ticks).</summary>
public readonly record struct SnapshotRange(long MaxSequenceNr, long MaxCreated, long MinSequenceNr, long MinCreated);
