namespace AiSystem.Master.Persistence;

/// <summary>
/// How the journal is doing, for readiness and metrics: updated by the journal's writer and the plugins, read from
/// anywhere. Plain interlocked fields: the write path pays a few nanoseconds, no locks.
/// </summary>
public sealed class JournalHealth
{
    /// <summary>What went wrong last: the exception's type and message, never row contents.</summary>
    public sealed record Error(string Type, string Message, DateTimeOffset At);

    private long _lastWriteUnixMs;
    private int _consecutiveFailedBatches;
    private int _queuedRows;
    private Error? _lastError;
    private long _committedBatches;
    private long _committedRows;
    private long _snapshotsSaved;
    private long _snapshotBytes;

    /// <summary>When a write batch last committed; null before the first.</summary>
    public DateTimeOffset? LastSuccessfulWrite =>
        Interlocked.Read(ref _lastWriteUnixMs) is var ms and > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    /// <summary>Write batches that failed since the last one that committed (0 = healthy).</summary>
    public int ConsecutiveFailedBatches => Volatile.Read(ref _consecutiveFailedBatches);

    /// <summary>Rows handed to the writer and not yet committed or failed.</summary>
    public int QueuedRows => Volatile.Read(ref _queuedRows);

    public Error? LastError => Volatile.Read(ref _lastError);

    /// <summary>Transactions the writer committed, and the rows in them: their ratio is the group-commit batch size.</summary>
    public long CommittedBatches => Interlocked.Read(ref _committedBatches);

    public long CommittedRows => Interlocked.Read(ref _committedRows);

    /// <summary>Snapshots saved, and their bytes (sessions' histories, the dispatcher's open tasks).</summary>
    public long SnapshotsSaved => Interlocked.Read(ref _snapshotsSaved);

    public long SnapshotBytes => Interlocked.Read(ref _snapshotBytes);

    internal void SnapshotSaved(int bytes)
    {
        Interlocked.Increment(ref _snapshotsSaved);
        Interlocked.Add(ref _snapshotBytes, bytes);
    }

    internal void RowsQueued(int rows) => Interlocked.Add(ref _queuedRows, rows);

    internal void RowsDone(int rows) => Interlocked.Add(ref _queuedRows, -rows);

    internal void BatchCommitted(DateTimeOffset at, int rows)
    {
        Interlocked.Increment(ref _committedBatches);
        Interlocked.Add(ref _committedRows, rows);
        Interlocked.Exchange(ref _lastWriteUnixMs, at.ToUnixTimeMilliseconds());
        if (Volatile.Read(ref _consecutiveFailedBatches) != 0) Interlocked.Exchange(ref _consecutiveFailedBatches, 0);
    }

    internal void BatchFailed(Exception error, DateTimeOffset at)
    {
        Interlocked.Increment(ref _consecutiveFailedBatches);
        Failed(error, at);
    }

    /// <summary>Any other operation (a read, a delete, a snapshot) that failed.</summary>
    internal void Failed(Exception error, DateTimeOffset at) =>
        Volatile.Write(ref _lastError, new Error(error.GetType().FullName ?? error.GetType().Name, error.Message, at));
}
