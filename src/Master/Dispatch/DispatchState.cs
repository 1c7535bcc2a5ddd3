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
/// <summary>Tell the session its task failed for good, and why.</summary>
public sealed record FailedEffect(DispatchTask Task, string Error) : DispatchEffect;
/// <summary>A task was taken from its worker and goes to another (for the log and the metrics).</summary>
public sealed record RedispatchEffect(DispatchTask Task, string Reason) : DispatchEffect;
/// <summary>A worker was declared gone (for the log).</summary>
public sealed record WorkerLostEffect(string WorkerId, string Reason, int TasksReturned) : DispatchEffect;

public enum SubmitStatus { Assigned, Queued, Rejected }

public sealed record SubmitDecision(SubmitStatus Status, int? Position, string? Error, IReadOnlyList<DispatchEffect> Effects);

public enum ResultStatus { Accepted, Duplicate, Refused }

public sealed record ResultDecision(ResultStatus Status, string Message, IReadOnlyList<DispatchEffect> Effects);

/// <summary>The rules the dispatcher applies (from <c>Dispatch__*</c> and <c>Limits__*</c>).</summary>
public sealed record DispatchPolicy(int MaxQueuedTasks, TimeSpan TaskTimeout, int MaxAttempts)
{
    /// <summary>A worker that announced a heartbeat interval is gone after this many intervals of silence.</summary>
    public const int MissedHeartbeats = 3;
    /// <summary>How often the actor calls <see cref="DispatchState.Tick"/>.</summary>
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(500);
    /// <summary>A tick this late means the master itself stood still (frozen, swapped): nobody else was silent.</summary>
    public static readonly TimeSpan PauseThreshold = TimeSpan.FromSeconds(2);
}

/// <summary>
/// The dispatcher's decisions as a plain class: which worker gets a task, what waits in the queue, which result
/// belongs to which task, when a worker is gone and when a task must go elsewhere. No I/O, no actors: every method
/// returns the effects for the actor to carry out.
/// </summary>
public sealed class DispatchState(DispatchPolicy policy, Func<DateTimeOffset> clock)
{
    /// <summary>How many finished task ids are remembered to recognise late duplicates.</summary>
    private const int CompletedMemory = 100_000;
    private const int DepartedMemory = 1_000;

    private readonly Dictionary<string, DispatchTask> _inFlight = new(StringComparer.Ordinal);
    private readonly HashSet<string> _completed = new(StringComparer.Ordinal);
    private readonly Queue<string> _completedOrder = new();
    /// <summary>Workers declared gone for silence: if they speak again they were only frozen, and are taken back.</summary>
    private readonly Dictionary<string, WorkerInfo> _departed = new(StringComparer.Ordinal);
    /// <summary>Workers that said goodbye (offline): a late heartbeat of theirs must not bring them back.</summary>
    private readonly HashSet<string> _left = new(StringComparer.Ordinal);
    private DateTimeOffset _lastTick = clock();

    public WorkerRegistry Workers { get; } = new();
    public TaskQueue Queue { get; } = new();
    public IEnumerable<DispatchTask> InFlight => _inFlight.Values;
    public int InFlightCount => _inFlight.Count;
    public DispatchPolicy Policy => policy;

    /// <summary>False while the master has no broker connection: nothing can be published, nobody can be heard.</summary>
    public bool BrokerConnected { get; private set; } = true;

    /// <summary>Null when a new task may be accepted now, else why not (the queue is full).</summary>
    public string? Refusal() =>
        Queue.Count >= policy.MaxQueuedTasks && (!BrokerConnected || Workers.PickWorker() is null)
            ? $"The queue is full ({policy.MaxQueuedTasks} questions are waiting). Please try again in a minute."
            : null;

    /// <summary>
    /// After a restart: the open tasks of the journal come back, queued ones in the queue (oldest first), assigned
    /// ones in flight on their worker with their deadline; the worker gets them back when it shows up again.
    /// </summary>
    public void Restore(IEnumerable<LedgerEntry> open, IEnumerable<string> finished)
    {
        foreach (var id in finished) Remember(id);
        foreach (var e in open.OrderBy(e => e.Timestamp))
        {
            var task = new DispatchTask(e.TaskId, e.SessionId, e.Query, "", e.Timestamp) { Attempt = e.Attempt };
            if (e.WorkerId is null)
                Queue.Enqueue(task);
            else
                _inFlight[e.TaskId] = task with { WorkerId = e.WorkerId, AssignedAt = e.AssignedAt, Deadline = e.Deadline };
        }
    }

    public SubmitDecision Submit(DispatchTask task)
    {
        if (Refusal() is { } refusal)
            return new SubmitDecision(SubmitStatus.Rejected, null, refusal, []);
        var worker = BrokerConnected ? Workers.PickWorker() : null;

        if (Queue.Count == 0 && worker is not null)
            return new SubmitDecision(SubmitStatus.Assigned, null, null, [new AssignEffect(Assign(task, worker))]);

        Queue.Enqueue(task);
        var position = Queue.Count;
        return new SubmitDecision(SubmitStatus.Queued, position, null, [new QueuedEffect(task, position)]);
    }

    /// <summary>A worker announced itself (first time or after a reconnect): it may take queued tasks.</summary>
    public IReadOnlyList<DispatchEffect> Register(string workerId, int? capacity, Action<WorkerInfo>? describe = null)
    {
        _departed.Remove(workerId);
        _left.Remove(workerId);
        var worker = Workers.Register(workerId, capacity, clock(), describe);
        // Tasks recovered as in flight on this worker count in its slots again.
        foreach (var t in _inFlight.Values)
            if (t.WorkerId == workerId) worker.ActiveTasks.Add(t.TaskId);
        return Drain();
    }

    /// <summary>
    /// A status or heartbeat: the worker is alive. Slots stay counted by the dispatcher's own assignments. A worker
    /// this master does not know yet (the master restarted, the worker did not) or one declared gone for silence
    /// that turns out alive (it was frozen) is taken in; one that said goodbye is not.
    /// </summary>
    public IReadOnlyList<DispatchEffect> Touch(string workerId, string? reportedStatus, int? capacity = null, TimeSpan? heartbeatInterval = null)
    {
        if (Workers.Find(workerId) is { } worker)
        {
            worker.LastSeen = clock();
            if (reportedStatus is not null) worker.ReportedStatus = reportedStatus;
            return [];
        }
        if (_left.Contains(workerId) || reportedStatus == Messages.WorkerStatuses.Offline) return [];
        if (_departed.Remove(workerId, out var before))
            return Register(workerId, capacity ?? before.Capacity, w =>
            {
                w.Language = before.Language;
                w.Host = before.Host;
                w.Version = before.Version;
                w.Provider = before.Provider;
                w.ClusterAddress = before.ClusterAddress;
                w.HeartbeatInterval = heartbeatInterval ?? before.HeartbeatInterval;
                w.Completed = before.Completed;
            });
        return Register(workerId, capacity, w => w.HeartbeatInterval = heartbeatInterval);
    }

    /// <summary>A worker left (clean offline, last will, silence): its in-flight tasks go to other workers.</summary>
    public IReadOnlyList<DispatchEffect> RemoveWorker(string workerId, string reason = "offline", bool saidGoodbye = true)
    {
        if (!Workers.Remove(workerId, out var worker) || worker is null) return [];
        if (saidGoodbye) RememberLeft(workerId);
        else RememberDeparted(worker);
        var effects = new List<DispatchEffect>();
        var orphans = worker.ActiveTasks.Select(id => _inFlight[id]).OrderByDescending(t => t.Timestamp).ToList();
        foreach (var task in orphans) // newest first: EnqueueFirst leaves the oldest at the head
            TakeBack(task, $"its worker {workerId} went {reason}", effects);
        effects.Insert(0, new WorkerLostEffect(workerId, reason, orphans.Count));
        effects.AddRange(Drain(reportPositions: orphans.Count > 0));
        return effects;
    }

    /// <summary>The cluster removed the node at <paramref name="address"/>: every worker living there is gone now.</summary>
    public IReadOnlyList<DispatchEffect> RemoveWorkersAt(string address)
    {
        var effects = new List<DispatchEffect>();
        foreach (var id in Workers.All.Where(w => w.ClusterAddress == address).Select(w => w.Id).ToList())
            effects.AddRange(RemoveWorker(id, "removed from the cluster", saidGoodbye: false));
        return effects;
    }

    /// <summary>The task could not be published (broker down): it never reached the worker, so it goes back unchanged.</summary>
    public IReadOnlyList<DispatchEffect> PublishFailed(string taskId, int attempt)
    {
        if (!_inFlight.TryGetValue(taskId, out var task) || task.Attempt != attempt) return [];
        _inFlight.Remove(taskId);
        Workers.Find(task.WorkerId!)?.ActiveTasks.Remove(taskId);
        Queue.EnqueueFirst(task with { WorkerId = null, AssignedAt = null, Deadline = null, Attempt = task.Attempt - 1 });
        return Positions();
    }

    /// <summary>
    /// The master's own broker connection came or went. While it is down nobody is declared gone for silence, and
    /// nothing is assigned; when it is back, every worker gets a fresh grace period.
    /// </summary>
    public IReadOnlyList<DispatchEffect> SetBrokerConnected(bool connected)
    {
        BrokerConnected = connected;
        if (!connected) return [];
        var now = clock();
        foreach (var w in Workers.All) w.LastSeen = now;
        return Drain();
    }

    /// <summary>Called every <see cref="DispatchPolicy.TickInterval"/>: silent workers, overdue tasks, queued work.</summary>
    public IReadOnlyList<DispatchEffect> Tick()
    {
        var now = clock();
        var gap = now - _lastTick;
        _lastTick = now;
        var effects = new List<DispatchEffect>();

        if (gap > DispatchPolicy.PauseThreshold)
        {
            // The master stood still: silence and lateness over that gap are its own, not the workers'.
            var lost = gap - DispatchPolicy.TickInterval;
            foreach (var w in Workers.All) w.LastSeen += lost;
            foreach (var t in _inFlight.Values.ToList())
                _inFlight[t.TaskId] = t with { Deadline = t.Deadline + lost };
        }

        if (BrokerConnected)
        {
            var silent = Workers.All
                .Where(w => w.HeartbeatInterval is { } interval && now - w.LastSeen > interval * DispatchPolicy.MissedHeartbeats)
                .Select(w => w.Id)
                .ToList();
            foreach (var id in silent)
                effects.AddRange(RemoveWorker(id, $"silent ({DispatchPolicy.MissedHeartbeats} heartbeats missed)", saidGoodbye: false));
        }

        var overdue = _inFlight.Values.Where(t => t.Deadline <= now).OrderByDescending(t => t.Timestamp).ToList();
        foreach (var task in overdue)
        {
            _inFlight.Remove(task.TaskId);
            Workers.Find(task.WorkerId!)?.ActiveTasks.Remove(task.TaskId);
            TakeBack(task, $"worker {task.WorkerId} did not answer within {policy.TaskTimeout}", effects);
        }

        effects.AddRange(Drain(reportPositions: overdue.Count > 0));
        return effects;
    }

    /// <summary>
    /// A result from a worker (PROTOCOL §2): accepted only for a task in flight on that worker, matched by task_id,
    /// or for old workers by session_id + query_timestamp. A late second result for a finished task is dropped.
    /// </summary>
    /// <summary>
    /// The in-flight task whose answer this worker may stream: the task must be assigned to it, and to the same
    /// attempt when the worker names one (0: it does not know). Stale attempts and other workers get null.
    /// </summary>
    public DispatchTask? StreamingTask(string taskId, string workerId, int attempt) =>
        _inFlight.TryGetValue(taskId, out var task) && task.WorkerId == workerId && (attempt == 0 || attempt == task.Attempt)
            ? task
            : null;

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

    /// <summary>A task taken from its worker goes to the head of the queue, or fails when it has had its attempts.</summary>
    private void TakeBack(DispatchTask task, string why, List<DispatchEffect> effects)
    {
        _inFlight.Remove(task.TaskId);
        if (task.Attempt >= policy.MaxAttempts)
        {
            Remember(task.TaskId); // a late answer from its last worker is a duplicate now
            effects.Add(new FailedEffect(task,
                $"No worker could answer this question after {task.Attempt} attempt(s) (last: {why}). Please ask again."));
            return;
        }
        Queue.EnqueueFirst(task with { WorkerId = null, AssignedAt = null, Deadline = null, PreviousWorkerId = task.WorkerId });
        effects.Add(new RedispatchEffect(task, why));
    }

    /// <summary>Hands queued tasks to free slots; when any left the queue, the rest hear their new positions.</summary>
    private IReadOnlyList<DispatchEffect> Drain(bool reportPositions = false)
    {
        var effects = new List<DispatchEffect>();
        while (BrokerConnected && Queue.Peek() is { } next && Workers.PickWorker(avoid: next.PreviousWorkerId) is { } worker)
        {
            Queue.TryDequeue(out var task);
            effects.Add(new AssignEffect(Assign(task, worker)));
        }
        if (effects.Count > 0 || reportPositions)
            effects.AddRange(Positions());
        return effects;
    }

    private List<DispatchEffect> Positions() =>
        Queue.Positions().Select(p => (DispatchEffect)new QueuedEffect(p.Task, p.Position)).ToList();

    private DispatchTask Assign(DispatchTask task, WorkerInfo worker)
    {
        var now = clock();
        var assigned = task with { WorkerId = worker.Id, Attempt = task.Attempt + 1, AssignedAt = now, Deadline = now + policy.TaskTimeout };
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

    private void RememberDeparted(WorkerInfo departed)
    {
        if (_departed.Count >= DepartedMemory) _departed.Remove(_departed.Keys.First());
        _departed[departed.Id] = departed;
    }

    private void RememberLeft(string workerId)
    {
        if (_left.Count >= DepartedMemory) _left.Remove(_left.First());
        _left.Add(workerId);
    }
}
