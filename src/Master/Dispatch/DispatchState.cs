using AiSystem.Messages.Grpc;

namespace AiSystem.Master.Dispatch;

/// <summary>What the dispatcher must do after a decision; the actor carries these out.</summary>
public abstract record DispatchEffect;
/// <summary>Publish the task to its worker and tell the session which worker has it.</summary>
public sealed record AssignEffect(DispatchTask Task) : DispatchEffect;
/// <summary>Tell the session where its task now stands in the queue.</summary>
public sealed record QueuedEffect(DispatchTask Task, int Position) : DispatchEffect;
/// <summary>Tell the session its task has an answer (or a failure reported by the worker).</summary>
public sealed record CompletedEffect(DispatchTask Task, TaskResult Result) : DispatchEffect;

public enum SubmitStatus { Assigned, Queued, Rejected }

public sealed record SubmitDecision(SubmitStatus Status, int? Position, string? Error, IReadOnlyList<DispatchEffect> Effects);

public enum ResultStatus { Accepted, Duplicate, Refused }

public sealed record ResultDecision(ResultStatus Status, string Message, IReadOnlyList<DispatchEffect> Effects);

/// <summary>
/// The dispatcher's decisions as a plain class: which worker gets a task, what waits in the queue, which result
/// belongs to which task. No I/O, no actors: every method returns the effects for the actor to carry out.
/// </summary>
public sealed class DispatchState(int maxQueuedTasks, Func<DateTimeOffset> clock)
{
    /// <summary>How many finished task ids are remembered to recognise late duplicates.</summary>
    private const int CompletedMemory = 10_000;

    private readonly Dictionary<string, DispatchTask> _inFlight = new(StringComparer.Ordinal);
    private readonly HashSet<string> _completed = new(StringComparer.Ordinal);
    private readonly Queue<string> _completedOrder = new();

    public WorkerRegistry Workers { get; } = new();
    public TaskQueue Queue { get; } = new();
    public IEnumerable<DispatchTask> InFlight => _inFlight.Values;

    public SubmitDecision Submit(DispatchTask task)
    {
        if (Queue.Count >= maxQueuedTasks && Workers.PickWorker() is null)
            return new SubmitDecision(SubmitStatus.Rejected, null,
                $"The queue is full ({maxQueuedTasks} questions are waiting). Please try again in a minute.", []);

        if (Queue.Count == 0 && Workers.PickWorker() is { } worker)
        {
            var assigned = Assign(task, worker);
            return new SubmitDecision(SubmitStatus.Assigned, null, null, [new AssignEffect(assigned)]);
        }

        Queue.Enqueue(task);
        var position = Queue.Count;
        return new SubmitDecision(SubmitStatus.Queued, position, null, [new QueuedEffect(task, position)]);
    }

    /// <summary>A worker announced itself (first time or after a reconnect): it may take queued tasks.</summary>
    public IReadOnlyList<DispatchEffect> Register(string workerId, int? capacity, Action<WorkerInfo>? describe = null)
    {
        Workers.Register(workerId, capacity, clock(), describe);
        return Drain();
    }

    /// <summary>A status or heartbeat: the worker is alive. Slots stay counted by the dispatcher's own assignments.</summary>
    public bool Touch(string workerId, string? reportedStatus)
    {
        if (Workers.Find(workerId) is not { } worker) return false;
        worker.LastSeen = clock();
        if (reportedStatus is not null) worker.ReportedStatus = reportedStatus;
        return true;
    }

    /// <summary>A worker left (clean offline or last will): its in-flight tasks go back to the head of the queue.</summary>
    public IReadOnlyList<DispatchEffect> RemoveWorker(string workerId)
    {
        if (!Workers.Remove(workerId, out var worker) || worker is null) return [];
        var orphans = worker.ActiveTasks
            .Select(id => _inFlight[id])
            .OrderByDescending(t => t.Timestamp) // EnqueueFirst reverses: oldest ends up first
            .ToList();
        foreach (var task in orphans)
        {
            _inFlight.Remove(task.TaskId);
            Queue.EnqueueFirst(task with { WorkerId = null, AssignedAt = null });
        }
        return orphans.Count == 0 ? [] : Drain(reportPositions: true);
    }

    /// <summary>
    /// A result from a worker (PROTOCOL §2): accepted only for a task in flight on that worker, matched by task_id,
    /// or for old workers by session_id + query_timestamp. A late second result for a finished task is dropped.
    /// </summary>
    public ResultDecision Complete(TaskResult result)
    {
        var task = Match(result);
        if (task is null)
        {
            if (!string.IsNullOrEmpty(result.TaskId) && _completed.Contains(result.TaskId))
                return new ResultDecision(ResultStatus.Duplicate, "This task already has an answer; the duplicate was dropped.", []);
            return new ResultDecision(ResultStatus.Refused, "No task matching this result is in flight on this worker.", []);
        }

        _inFlight.Remove(task.TaskId);
        Remember(task.TaskId);
        if (Workers.Find(result.WorkerId) is { } worker)
        {
            worker.ActiveTasks.Remove(task.TaskId);
            worker.Completed++;
            worker.LastSeen = clock();
        }
        var effects = new List<DispatchEffect> { new CompletedEffect(task, result) };
        effects.AddRange(Drain(reportPositions: true));
        return new ResultDecision(ResultStatus.Accepted, "Result accepted.", effects);
    }

    private DispatchTask? Match(TaskResult result)
    {
        if (string.IsNullOrEmpty(result.WorkerId)) return null;
        if (!string.IsNullOrEmpty(result.TaskId))
            return _inFlight.TryGetValue(result.TaskId, out var byId) && byId.WorkerId == result.WorkerId ? byId : null;
        if (Workers.Find(result.WorkerId) is not { } worker) return null;
        foreach (var id in worker.ActiveTasks)
        {
            var t = _inFlight[id];
            if (t.SessionId == result.SessionId && t.Timestamp == result.QueryTimestamp) return t;
        }
        return null;
    }

    /// <summary>Hands queued tasks to free slots; when any left the queue, the rest hear their new positions.</summary>
    private IReadOnlyList<DispatchEffect> Drain(bool reportPositions = false)
    {
        var effects = new List<DispatchEffect>();
        while (Queue.Count > 0 && Workers.PickWorker() is { } worker && Queue.TryDequeue(out var task))
            effects.Add(new AssignEffect(Assign(task, worker)));
        if (effects.Count > 0 || reportPositions)
            foreach (var (task, position) in Queue.Positions())
                effects.Add(new QueuedEffect(task, position));
        return effects;
    }

    private DispatchTask Assign(DispatchTask task, WorkerInfo worker)
    {
        var assigned = task with { WorkerId = worker.Id, Attempt = task.Attempt + 1, AssignedAt = clock() };
        worker.ActiveTasks.Add(task.TaskId);
        _inFlight[task.TaskId] = assigned;
        return assigned;
    }

    private void Remember(string taskId)
    {
        if (!_completed.Add(taskId)) return;
        _completedOrder.Enqueue(taskId);
        if (_completedOrder.Count > CompletedMemory)
            _completed.Remove(_completedOrder.Dequeue());
    }
}
