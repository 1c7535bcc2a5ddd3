namespace AiSystem.Master.Persistence;

/// <summary>What the writer thread writes to: one provider's database.</summary>
internal interface IJournalWriteTarget
{
    /// <summary>Writes the rows in one transaction, or nothing and throws.</summary>
    void Insert(IReadOnlyList<JournalRow> rows);

    bool IsUniqueViolation(Exception error);
}

/// <summary>Where a <see cref="GroupCommitWriter"/> runs its database calls.</summary>
public enum WriterThread
{
    /// <summary>
    /// One drain at a time on the thread pool, started when a write arrives and none is running: a write is picked up
    /// by a pool thread that is already awake, where waking a sleeping thread of its own costs more than the write on
    /// a busy machine. For a local database (SQLite), whose calls take microseconds.
    /// </summary>
    Pool,
    /// <summary>A thread of its own, asleep while nothing waits: for a database over the network, whose calls (and outages) take long.</summary>
    Dedicated,
}

/// <summary>
/// Group commit: one drain per journal takes every write waiting (up to <c>maxRows</c> rows), writes them in one
/// transaction and completes each waiter. Writes are taken in the order they were handed in, and operations
/// (SQLite's deletes and snapshots, and either provider's purges) run in that same order, alone. Only one drain runs
/// at a time, on the thread pool or on a thread of its own (<see cref="WriterThread"/>), because the databases' calls block.
/// </summary>
internal sealed class GroupCommitWriter : IDisposable
{
    private sealed class Pending(IReadOnlyList<JournalRow>? rows, Action? operation)
    {
        public readonly IReadOnlyList<JournalRow>? Rows = rows;
        public readonly Action? Operation = operation;
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int RowCount => Rows?.Count ?? 0;
    }

    private readonly IJournalWriteTarget _target;
    private readonly JournalHealth _health;
    private readonly TimeProvider _clock;
    private readonly int _maxRows;
    private readonly object _gate = new();
    private readonly Queue<Pending> _queue = new();
    private readonly Thread? _thread;
    private bool _idle;
    private bool _draining; // WriterThread.Pool: a drain is queued or running
    private bool _stopping;

    public GroupCommitWriter(IJournalWriteTarget target, JournalHealth health, int maxRows = 1000, TimeProvider? clock = null,
        WriterThread runOn = WriterThread.Dedicated)
    {
        if (maxRows < 1) throw new ArgumentOutOfRangeException(nameof(maxRows), maxRows, "A write batch must hold at least one row.");
        _target = target;
        _health = health;
        _maxRows = maxRows;
        _clock = clock ?? TimeProvider.System;
        if (runOn == WriterThread.Pool) return;
        _thread = new Thread(Run) { IsBackground = true, Name = "journal-writer" };
        _thread.Start();
    }

    /// <summary>Completes once the rows are committed; fails with the database's exception if they are not.</summary>
    public Task WriteAsync(IReadOnlyList<JournalRow> rows) => Enqueue(new Pending(rows, null));

    /// <summary>Runs <paramref name="operation"/> on the writer thread, after every write handed in before it.</summary>
    public Task RunAsync(Action operation) => Enqueue(new Pending(null, operation));

    private Task Enqueue(Pending pending)
    {
        lock (_gate)
        {
            if (_stopping) return Task.FromException(new ObjectDisposedException(nameof(GroupCommitWriter), "The journal is shutting down: the write was not taken."));
            _health.RowsQueued(pending.RowCount); // before the writer can take it, so the count never goes below zero
            _queue.Enqueue(pending);
            if (_thread is null)
            {
                if (!_draining)
                {
                    _draining = true;
                    ThreadPool.UnsafeQueueUserWorkItem(static w => w.Drain(), this, preferLocal: false);
                }
            }
            else if (_idle) Monitor.Pulse(_gate);
        }
        return pending.Done.Task;
    }

    /// <summary>The dedicated thread: drains, then sleeps until the next write, until stopped.</summary>
    private void Run()
    {
        var batch = new List<Pending>();
        var rows = new List<JournalRow>();
        while (Take(batch, wait: true)) Process(batch, rows);
    }

    /// <summary>A pool thread: drains until nothing waits (writes handed in meanwhile are taken too), then ends.</summary>
    private void Drain()
    {
        var batch = new List<Pending>();
        var rows = new List<JournalRow>();
        while (Take(batch, wait: false)) Process(batch, rows);
    }

    private void Process(List<Pending> batch, List<JournalRow> rows)
    {
        if (batch[0].Operation is { } operation) RunOperation(batch[0], operation);
        else Commit(batch, rows);
        batch.Clear();
        rows.Clear();
    }

    /// <summary>
    /// Everything waiting up to the row limit, or one operation. False when there is nothing more to do: once
    /// stopping and drained, or (<paramref name="wait"/> false) as soon as nothing waits, and the drain is then over.
    /// </summary>
    private bool Take(List<Pending> batch, bool wait)
    {
        lock (_gate)
        {
            while (_queue.Count == 0)
            {
                if (!wait)
                {
                    _draining = false;
                    Monitor.PulseAll(_gate); // a Dispose waiting for the drain to end
                    return false;
                }
                if (_stopping) return false;
                _idle = true;
                Monitor.Wait(_gate);
                _idle = false;
            }
            if (_queue.Peek().Operation is not null)
            {
                batch.Add(_queue.Dequeue());
                return true;
            }
            var count = 0;
            while (_queue.TryPeek(out var next) && next.Operation is null && (count == 0 || count + next.RowCount <= _maxRows))
            {
                batch.Add(_queue.Dequeue());
                count += next.RowCount;
            }
            return true;
        }
    }

    private void Commit(List<Pending> batch, List<JournalRow> rows)
    {
        foreach (var pending in batch) rows.AddRange(pending.Rows!);
        try
        {
            _target.Insert(rows);
            _health.BatchCommitted(_clock.GetUtcNow(), rows.Count);
            foreach (var pending in batch) Complete(pending, null);
        }
        catch (Exception error) when (_target.IsUniqueViolation(error))
        {
            // Someone else holds one of these sequence numbers. Only that writer's write may fail: write each alone.
            if (batch.Count == 1) Complete(batch[0], Conflict(batch[0], error));
            else CommitOneByOne(batch);
        }
        catch (Exception error)
        {
            _health.BatchFailed(error, _clock.GetUtcNow());
            foreach (var pending in batch) Complete(pending, error);
        }
    }

    private void CommitOneByOne(List<Pending> batch)
    {
        foreach (var pending in batch)
        {
            try
            {
                _target.Insert(pending.Rows!);
                _health.BatchCommitted(_clock.GetUtcNow(), pending.RowCount);
                Complete(pending, null);
            }
            catch (Exception error) when (_target.IsUniqueViolation(error))
            {
                Complete(pending, Conflict(pending, error));
            }
            catch (Exception error)
            {
                _health.BatchFailed(error, _clock.GetUtcNow());
                Complete(pending, error);
            }
        }
    }

    private Exception Conflict(Pending pending, Exception cause)
    {
        var conflict = new JournalWriteConflictException(pending.Rows![0].SequenceNr, pending.Rows[^1].SequenceNr, cause);
        _health.Failed(conflict, _clock.GetUtcNow(), outage: false);
        return conflict;
    }

    private void RunOperation(Pending pending, Action operation)
    {
        try
        {
            operation();
            Complete(pending, null);
        }
        catch (Exception error)
        {
            _health.Failed(error, _clock.GetUtcNow());
            Complete(pending, error);
        }
    }

    private void Complete(Pending pending, Exception? error)
    {
        _health.RowsDone(pending.RowCount);
        if (error is null) pending.Done.TrySetResult();
        else pending.Done.TrySetException(error);
    }

    /// <summary>Stops taking writes, lets the writer finish what it holds (up to 10 s), and fails what is left.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping) return;
            _stopping = true;
            Monitor.Pulse(_gate);
            if (_thread is null)
            {
                var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
                while (_draining && until - DateTime.UtcNow is var left && left > TimeSpan.Zero) Monitor.Wait(_gate, left);
                if (!_draining) return;
            }
        }
        if (_thread?.Join(TimeSpan.FromSeconds(10)) == true) return;
        lock (_gate)
            while (_queue.TryDequeue(out var left))
                Complete(left, new TimeoutException("The journal shut down before this write was committed."));
    }
}

/// <summary>
/// The journal already holds one of these sequence numbers: another incarnation of the same persistent actor wrote
/// first. The write is refused (the actor stops and recovers); other actors' writes in the same batch go on.
/// </summary>
public sealed class JournalWriteConflictException(long firstSequenceNr, long lastSequenceNr, Exception cause)
    : Exception($"The journal already holds a row among sequence numbers {firstSequenceNr}..{lastSequenceNr} of this persistent actor " +
        "(unique key persistence_id, sequence_number): another writer of the same id wrote first, so this write was refused.", cause);
