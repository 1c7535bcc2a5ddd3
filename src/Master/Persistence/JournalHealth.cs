namespace AiSystem.Master.Persistence;

/// <summary>
/// How the journal is doing, for readiness, metrics and operators (<see cref="JournalStatus"/>): updated by the
/// journal's writer and the plugins, read from anywhere. Plain interlocked fields: the write path pays a few
/// nanoseconds, no locks.
/// </summary>
/// <param name="connection">The journal's connection, whose password and connection string never reach <see cref="LastError"/>.</param>
public sealed class JournalHealth(JournalConnection? connection = null)
{
    /// <summary>
    /// What went wrong last: the exception's type and its message cleaned by <see cref="JournalErrorText"/> (first line,
    /// no password or connection string), never row contents.
    /// </summary>
    public sealed record Error(string Type, string Message, DateTimeOffset At);

    private long _lastWriteUnixMs;
    private long _lastGoodUnixMs;
    private long _lastFailureUnixMs;
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

    /// <summary>
    /// The journal is failing: the last thing it tried (a write batch, a read, a snapshot) failed, after the last one
    /// that worked, and less than <paramref name="within"/> ago. Older news is not trusted: the next write tries again.
    /// </summary>
    public bool IsFailing(DateTimeOffset now, TimeSpan within)
    {
        var failed = Interlocked.Read(ref _lastFailureUnixMs);
        return failed > Interlocked.Read(ref _lastGoodUnixMs) && now.ToUnixTimeMilliseconds() - failed < within.TotalMilliseconds;
    }

    /// <summary>Whether the last thing the journal tried failed (however long ago).</summary>
    public bool LastAttemptFailed => Interlocked.Read(ref _lastFailureUnixMs) > Interlocked.Read(ref _lastGoodUnixMs);

    /// <summary>When something last failed for a reason that concerns the database (not a write conflict); null if never.</summary>
    public DateTimeOffset? LastOutage =>
        Interlocked.Read(ref _lastFailureUnixMs) is var ms and > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    /// <summary>The database answered a probe (readiness): the journal can be tried again.</summary>
    public void ProbeSucceeded(DateTimeOffset at) => Good(at);

    private void Good(DateTimeOffset at)
    {
        var ms = at.ToUnixTimeMilliseconds();
        if (ms <= Interlocked.Read(ref _lastFailureUnixMs)) ms = Interlocked.Read(ref _lastFailureUnixMs) + 1;
        Interlocked.Exchange(ref _lastGoodUnixMs, ms);
    }

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
        Good(at);
        if (Volatile.Read(ref _consecutiveFailedBatches) != 0) Interlocked.Exchange(ref _consecutiveFailedBatches, 0);
    }

    internal void BatchFailed(Exception error, DateTimeOffset at)
    {
        Interlocked.Increment(ref _consecutiveFailedBatches);
        Failed(error, at);
    }

    /// <summary>Any other operation (a read, a delete, a snapshot) that failed.</summary>
    /// <param name="outage">False for a failure that says nothing about the database (a write conflict).</param>
    internal void Failed(Exception error, DateTimeOffset at, bool outage = true)
    {
        Volatile.Write(ref _lastError, new Error(error.GetType().FullName ?? error.GetType().Name, JournalErrorText.Clean(error.Message, connection), at));
        if (outage) Interlocked.Exchange(ref _lastFailureUnixMs, Math.Max(at.ToUnixTimeMilliseconds(), Interlocked.Read(ref _lastGoodUnixMs) + 1));
    }
}
