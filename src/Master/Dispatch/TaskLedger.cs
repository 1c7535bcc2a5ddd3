namespace AiSystem.Master.Dispatch;

// What the dispatcher writes to its journal. API keys are never written: a task recovered after a restart
// is answered with the workers' own key (or the simulated model).

public interface IDispatchEvent;

/// <summary>A question was accepted: from now on it gets exactly one answer or one failure.</summary>
public sealed record TaskAccepted(string TaskId, string SessionId, string Query, long Timestamp) : IDispatchEvent;

/// <summary>A task was given to a worker.</summary>
public sealed record TaskAssignedTo(string TaskId, string WorkerId, int Attempt, DateTimeOffset AssignedAt, DateTimeOffset Deadline) : IDispatchEvent;

/// <summary>A task has its outcome; the outcome waits in the outbox until its session has stored it.</summary>
public sealed record TaskFinished(TaskOutcome Outcome) : IDispatchEvent;

/// <summary>The session stored the outcome: it leaves the outbox.</summary>
public sealed record OutcomeDelivered(string TaskId) : IDispatchEvent;

/// <summary>How one question ended, as the session records it.</summary>
public sealed record TaskOutcome(string TaskId, string SessionId, string Query, string? Response, string? Error, bool Retryable,
    string WorkerId, string Provider, long ProcessingTimeMs, long CompletedAt);

/// <summary>An open task as the journal knows it.</summary>
public sealed record LedgerEntry(string TaskId, string SessionId, string Query, long Timestamp, string? WorkerId, int Attempt,
    DateTimeOffset? AssignedAt, DateTimeOffset? Deadline);

public sealed record DispatcherSnapshot(IReadOnlyList<LedgerEntry> Open, IReadOnlyList<TaskOutcome> Outbox, IReadOnlyList<string> Finished);

/// <summary>
/// The dispatcher's durable truth, rebuilt from its journal: which accepted tasks are still open (and where they
/// were last sent), which outcomes still have to reach their sessions, which tasks are finished.
/// </summary>
public sealed class TaskLedger
{
    private const int FinishedMemory = 100_000;

    private readonly Dictionary<string, LedgerEntry> _open = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskOutcome> _outbox = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _finished = new();

    public IReadOnlyCollection<LedgerEntry> Open => _open.Values;
    public IReadOnlyCollection<TaskOutcome> Outbox => _outbox.Values;
    public IEnumerable<string> Finished => _finished;

    public bool AwaitsDelivery(string taskId) => _outbox.ContainsKey(taskId);

    public void Apply(IDispatchEvent e)
    {
        switch (e)
        {
            case TaskAccepted a:
                _open[a.TaskId] = new LedgerEntry(a.TaskId, a.SessionId, a.Query, a.Timestamp, null, 0, null, null);
                break;
            case TaskAssignedTo t when _open.TryGetValue(t.TaskId, out var entry):
                _open[t.TaskId] = entry with { WorkerId = t.WorkerId, Attempt = t.Attempt, AssignedAt = t.AssignedAt, Deadline = t.Deadline };
                break;
            case TaskFinished f:
                _open.Remove(f.Outcome.TaskId);
                _outbox[f.Outcome.TaskId] = f.Outcome;
                _finished.AddLast(f.Outcome.TaskId);
                if (_finished.Count > FinishedMemory) _finished.RemoveFirst();
                break;
            case OutcomeDelivered d:
                _outbox.Remove(d.TaskId);
                break;
        }
    }

    public DispatcherSnapshot Snapshot() => new([.. _open.Values], [.. _outbox.Values], [.. _finished]);

    public void Restore(DispatcherSnapshot snapshot)
    {
        _open.Clear();
        _outbox.Clear();
        _finished.Clear();
        foreach (var e in snapshot.Open) _open[e.TaskId] = e;
        foreach (var o in snapshot.Outbox) _outbox[o.TaskId] = o;
        foreach (var id in snapshot.Finished) _finished.AddLast(id);
    }
}
