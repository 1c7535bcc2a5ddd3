using AiSystem.Master.Security;
using AiSystem.Master.Sessions;

namespace AiSystem.Master.Dispatch;

/// <summary>The rules the dispatcher applies (from <c>Dispatch__*</c> and <c>Limits__*</c>).</summary>
public sealed record DispatchPolicy(int MaxQueuedTasks, TimeSpan TaskTimeout, int MaxAttempts)
{
    /// <summary>A worker that announced a heartbeat interval is gone after this many intervals of silence.</summary>
    public const int MissedHeartbeats = 3;
    /// <summary>How often the actor calls <see cref="DispatchState.Tick"/>.</summary>
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(500);
    /// <summary>A tick this late means the master itself stood still (frozen, swapped): nobody else was silent.</summary>
    public static readonly TimeSpan PauseThreshold = TimeSpan.FromSeconds(2);
    /// <summary>An outcome its session has not confirmed for this long is sent again.</summary>
    public static readonly TimeSpan OutcomeResendAfter = TimeSpan.FromSeconds(3);
    /// <summary>
    /// After a restart, tasks whose worker is unknown wait this long before they are dispatched again, so that a
    /// worker still running one can claim it (its heartbeat names its running tasks, or its result arrives). In a
    /// failover a finished task's result may be stuck for one gRPC call (the master that took it asked the old
    /// dispatcher: 10 s) and one retry's backoff (2 s): the grace covers both, so that result is taken instead of
    /// the task running again. A task whose worker died too waits this long more before it runs again.
    /// </summary>
    public TimeSpan RecoveryGrace { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>
    /// Finished task ids are remembered this long to recognise late duplicate results: longer than any worker keeps
    /// retrying a result (it stops at the task's deadline).
    /// </summary>
    public TimeSpan FinishedMemory => TaskTimeout * MaxAttempts + TimeSpan.FromMinutes(1);
}

public enum AdmissionStatus { Admitted, Refused, AlreadyFinished }

/// <summary>The dispatcher's answer to a submitted task, and the events it raised.</summary>
public sealed record Admission(AdmissionStatus Status, TaskStatusView? Task, string? Error, IReadOnlyList<DispatchEvent> Events);

public enum ResultStatus
{
    /// <summary>The result is the task's outcome.</summary>
    Accepted,
    /// <summary>The task already has an outcome that its session has not stored yet: acknowledge once it has.</summary>
    AwaitingStorage,
    /// <summary>The task is finished: acknowledged and dropped.</summary>
    Duplicate,
    /// <summary>No such task is in flight on that worker: refused.</summary>
    Refused,
    /// <summary>
    /// Just after a restart, for a task its session has not sent again yet: kept, and acknowledged once stored (or
    /// refused when the recovery grace ends without the question).
    /// </summary>
    Kept,
}

public sealed record ResultDecision(ResultStatus Status, string Message, string? TaskId, IReadOnlyList<DispatchEvent> Events);

/// <summary>
/// The dispatcher's decisions as a plain class: which worker gets a task, what waits in the queue, which result
/// belongs to which task, when a worker is gone and when a task must go elsewhere. No I/O, no actors. Every decision
/// raises <see cref="DispatchEvent"/>s and returns them; <see cref="Apply"/> is the only code that changes the state.
/// A result counts only with its assignment's session alias (<see cref="MasterKeys.SessionAlias"/>): the right task
/// and worker ids are not enough.
/// </summary>
public sealed class DispatchState(DispatchPolicy policy, Func<DateTimeOffset> clock, MasterKeys? keys = null)
{
    private const int DepartedMemory = 1_000;
    private const int FinishedCap = 500_000;

    private readonly Dictionary<string, DispatchTask> _tasks = new(StringComparer.Ordinal);
    private readonly FinishedTasks _finished = new(FinishedCap);
    /// <summary>Workers declared gone for silence: if they speak again they were only frozen, and are taken back.</summary>
    private readonly Dictionary<string, (int Capacity, WorkerDescription Description, long Completed)> _departed = new(StringComparer.Ordinal);
    /// <summary>Workers that said goodbye (offline): a late heartbeat of theirs must not bring them back.</summary>
    private readonly HashSet<string> _left = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _reportedPositions = new(StringComparer.Ordinal);
    private DateTimeOffset _lastTick = clock();
    private DateTimeOffset _recoveryGraceEnds = DateTimeOffset.MinValue;
    private const int KeptCap = 10_000;
    /// <summary>Results that came, after a restart, before their questions did (<see cref="ResultKept"/>).</summary>
    private readonly Dictionary<string, (WorkerResult Result, DateTimeOffset Until)> _kept = new(StringComparer.Ordinal);
    private List<DispatchEvent>? _raised;

    public WorkerRegistry Workers { get; } = new();
    public MasterKeys Keys { get; } = keys ?? MasterKeys.Random();

    /// <summary>The <c>session_id</c> the task carries to its worker (it is in flight).</summary>
    public string AliasOf(DispatchTask task) => Keys.SessionAlias(task.TaskId, task.WorkerId!);
    public TaskQueue Queue { get; } = new();
    public DispatchPolicy Policy => policy;
    public IEnumerable<DispatchTask> Tasks => _tasks.Values;
    public int OpenCount => _tasks.Count;
    public int InFlightCount { get; private set; }
    public int CompletingCount { get; private set; }

    /// <summary>False while the master has no broker connection: nothing can be published, nobody can be heard.</summary>
    public bool BrokerConnected { get; private set; } = true;

    public DispatchTask? Find(string taskId) => _tasks.GetValueOrDefault(taskId);

    /// <summary>Null when a new task may be accepted now, else why not (the queue is full).</summary>
    public string? Refusal() =>
        Queue.Count >= policy.MaxQueuedTasks && (!BrokerConnected || Workers.PickWorker() is null)
            ? $"The queue is full ({policy.MaxQueuedTasks} questions are waiting). Please try again in a minute."
            : null;

    // ------------------------------------------------------------------ decisions

    /// <summary>
    /// A session submits a question (<paramref name="resubmitted"/>: again, after a restart or because it heard nothing
    /// for a while). Submitting is idempotent by task id: a known task answers with where it stands. Only new questions
    /// are refused for a full queue; a resubmitted one was accepted long ago.
    /// </summary>
    public Admission Submit(TaskRequest request, bool resubmitted)
    {
        var events = Begin();
        if (_tasks.TryGetValue(request.TaskId, out var known))
        {
            if (known.SessionId != request.SessionId)
                return End(events, AdmissionStatus.Refused, null, "This task id belongs to another session. Send the question again.");
            if (!known.HasText) Raise(new TaskTextRestored(known.TaskId, request));
            if (known.ApiKey.Length == 0 && request.ApiKey.Length > 0) known.ApiKey = request.ApiKey; // not state anyone decides on
            Drain();
            return End(events, AdmissionStatus.Admitted, known, null);
        }
        if (_finished.Contains(request.TaskId))
            return End(events, AdmissionStatus.AlreadyFinished, null, null);
        if (!resubmitted && Refusal() is { } refusal)
            return End(events, AdmissionStatus.Refused, null, refusal);

        var task = new DispatchTask(request.TaskId, request.SessionId, request.AskedAt)
        {
            Query = request.Query, ApiKey = request.ApiKey, History = request.History, System = request.System, Model = request.Model,
        };
        if (resubmitted && clock() < _recoveryGraceEnds)
        {
            // Found after a restart: its worker may still be running it. Wait for a claim before dispatching again.
            task.Phase = TaskPhase.Held;
            task.HeldUntil = _recoveryGraceEnds;
        }
        Raise(new TaskAccepted(task));
        // Its worker's result came first (it was sent to this dispatcher while the question was on its way back).
        if (_kept.TryGetValue(task.TaskId, out var kept) && Keys.IsSessionAlias(task.TaskId, kept.Result.WorkerId, kept.Result.SessionId))
            Raise(new TaskCompleted(task.TaskId, OutcomeOf(task, kept.Result)));
        Drain();
        return End(events, AdmissionStatus.Admitted, task, null);
    }

    /// <summary>
    /// A worker's result (PROTOCOL §2): accepted for a task in flight on that worker, matched by task_id or, for old
    /// workers, by session_id + query_timestamp; or, after a restart, for a held task from any worker.
    /// </summary>
    public ResultDecision Complete(WorkerResult result)
    {
        var events = Begin();
        var task = Match(result);
        if (task is null)
        {
            if (!string.IsNullOrEmpty(result.TaskId) && _finished.Contains(result.TaskId))
                return End(events, ResultStatus.Duplicate, "This task already has an answer; the duplicate was dropped.", result.TaskId);
            // Just after a restart the dispatcher does not know every open task yet: their sessions are sending them
            // again. A result that comes first waits for its question instead of being refused (and its task run twice).
            if (!string.IsNullOrEmpty(result.TaskId) && clock() < _recoveryGraceEnds && !_tasks.ContainsKey(result.TaskId)
                && Keys.IsSessionAlias(result.TaskId, result.WorkerId, result.SessionId))
            {
                var known = _kept.ContainsKey(result.TaskId);
                if (known || _kept.Count < KeptCap)
                {
                    if (!known) Raise(new ResultKept(result, _recoveryGraceEnds));
                    return End(events, ResultStatus.Kept, "The dispatcher has just restarted: the result is kept until its question is back.", result.TaskId);
                }
            }
            return End(events, ResultStatus.Refused, "No task matching this result is in flight on this worker.", result.TaskId);
        }
        if (task.Phase == TaskPhase.Completing)
            return End(events, ResultStatus.AwaitingStorage, "This task already has an answer; the duplicate was dropped.", task.TaskId);

        Raise(new TaskCompleted(task.TaskId, OutcomeOf(task, result)));
        Drain();
        return End(events, ResultStatus.Accepted, "Result accepted.", task.TaskId);
    }

    /// <summary>The session stored the outcome: the task is finished.</summary>
    public IReadOnlyList<DispatchEvent> OutcomeStored(string taskId)
    {
        var events = Begin();
        if (_tasks.TryGetValue(taskId, out var task) && task.Phase == TaskPhase.Completing)
            Raise(new TaskFinished(taskId));
        return End(events);
    }

    /// <summary>
    /// The session could not store the question (or gave up waiting), or the user stopped it: the task leaves without
    /// an outcome. A worker running it is named in the event (to be told to stop); its slot goes to the next task now.
    /// </summary>
    public IReadOnlyList<DispatchEvent> Cancel(string taskId, string sessionId)
    {
        var events = Begin();
        if (_tasks.TryGetValue(taskId, out var task) && task.SessionId == sessionId && task.Phase != TaskPhase.Completing)
        {
            Raise(task.Phase == TaskPhase.InFlight ? new TaskCancelled(taskId, task.WorkerId, task.Attempt) : new TaskCancelled(taskId));
            Drain();
        }
        return End(events);
    }

    /// <summary>
    /// After a restart, a session listed the questions it still has open. A task recovered without text that it did
    /// not list was answered (or never stored) before the crash; one completing that it did not list is stored already.
    /// </summary>
    public IReadOnlyList<DispatchEvent> OpenTasksListed(string sessionId, IReadOnlyCollection<string> openTaskIds)
    {
        var events = Begin();
        var open = openTaskIds as ISet<string> ?? new HashSet<string>(openTaskIds, StringComparer.Ordinal);
        foreach (var task in _tasks.Values.Where(t => t.SessionId == sessionId && !open.Contains(t.TaskId)).ToList())
        {
            if (task.Phase == TaskPhase.Completing) Raise(new TaskFinished(task.TaskId));
            else if (!task.HasText) Raise(new TaskCancelled(task.TaskId));
        }
        Drain();
        return End(events);
    }

    /// <summary>A worker announced itself (first time or after a reconnect): it may take queued tasks.</summary>
    public IReadOnlyList<DispatchEvent> Register(string workerId, int? capacity, WorkerDescription? description = null)
    {
        var events = Begin();
        Raise(new WorkerJoined(workerId, Math.Clamp(capacity ?? 1, 1, WorkerRegistry.MaxCapacity), description ?? new WorkerDescription(),
            Workers.Find(workerId) is not null));
        Drain();
        return End(events);
    }

    /// <summary>
    /// A status or heartbeat: the worker is alive. Slots stay counted by the dispatcher's own assignments. A worker
    /// this master does not know yet (the master restarted, the worker did not) or one declared gone for silence that
    /// turns out alive (it was frozen) is taken in; one that said goodbye is not. <paramref name="runningTaskIds"/>
    /// (heartbeats of new workers) lets a restarted dispatcher keep tasks on the worker that is still running them.
    /// </summary>
    public IReadOnlyList<DispatchEvent> Touch(string workerId, string? reportedStatus, int? capacity = null,
        TimeSpan? heartbeatInterval = null, IReadOnlyList<string>? runningTaskIds = null, bool draining = false)
    {
        var events = Begin();
        if (Workers.Find(workerId) is not null)
        {
            Raise(new WorkerSeen(workerId, reportedStatus, draining));
        }
        else if (!_left.Contains(workerId) && reportedStatus != Messages.WorkerStatuses.Offline)
        {
            if (_departed.TryGetValue(workerId, out var before))
                Raise(new WorkerJoined(workerId, Math.Clamp(capacity ?? before.Capacity, 1, WorkerRegistry.MaxCapacity),
                    before.Description with { HeartbeatInterval = heartbeatInterval ?? before.Description.HeartbeatInterval }, Again: true));
            else
                Raise(new WorkerJoined(workerId, Math.Clamp(capacity ?? 1, 1, WorkerRegistry.MaxCapacity),
                    new WorkerDescription(HeartbeatInterval: heartbeatInterval), Again: false));
        }
        if (runningTaskIds is { Count: > 0 } && Workers.Find(workerId) is not null)
        {
            foreach (var id in runningTaskIds)
                if (_tasks.TryGetValue(id, out var task) && task.Phase == TaskPhase.Held)
                    Raise(new TaskClaimed(id, workerId, clock() + policy.TaskTimeout));
        }
        Drain();
        return End(events);
    }

    /// <summary>A worker left (clean offline, last will, silence): its in-flight tasks go to other workers.</summary>
    public IReadOnlyList<DispatchEvent> RemoveWorker(string workerId, string reason = "offline", bool saidGoodbye = true)
    {
        var events = Begin();
        LoseWorker(workerId, reason, saidGoodbye);
        Drain();
        return End(events);
    }

    /// <summary>The cluster removed the node at <paramref name="address"/>: every worker living there is gone now.</summary>
    public IReadOnlyList<DispatchEvent> RemoveWorkersAt(string address)
    {
        var events = Begin();
        foreach (var id in Workers.All.Where(w => w.Description.ClusterAddress == address).Select(w => w.Id).ToList())
            LoseWorker(id, "removed from the cluster", saidGoodbye: false);
        Drain();
        return End(events);
    }

    /// <summary>The task could not be published (broker down): it never reached the worker, so it goes back unchanged.</summary>
    public IReadOnlyList<DispatchEvent> PublishFailed(string taskId, int attempt)
    {
        var events = Begin();
        if (_tasks.TryGetValue(taskId, out var task) && task.Phase == TaskPhase.InFlight && task.Attempt == attempt)
            Raise(new TaskUnpublished(taskId));
        return End(events);
    }

    /// <summary>
    /// The master's own broker connection came or went. While it is down nobody is declared gone for silence, and
    /// nothing is assigned; when it is back, every worker gets a fresh grace period.
    /// </summary>
    public IReadOnlyList<DispatchEvent> SetBrokerConnected(bool connected)
    {
        var events = Begin();
        if (connected != BrokerConnected) Raise(new BrokerConnectionChanged(connected));
        Drain();
        return End(events);
    }

    /// <summary>
    /// Called every <see cref="DispatchPolicy.TickInterval"/>: silent workers, overdue tasks, held tasks whose grace is
    /// over, outcomes their sessions have not confirmed, queued work.
    /// </summary>
    public IReadOnlyList<DispatchEvent> Tick()
    {
        var events = Begin();
        var now = clock();
        var gap = now - _lastTick;
        _lastTick = now;
        if (gap > DispatchPolicy.PauseThreshold) Raise(new DispatcherPaused(gap - DispatchPolicy.TickInterval));

        if (BrokerConnected)
        {
            var silent = Workers.All
                .Where(w => w.Description.HeartbeatInterval is { } interval && now - w.LastSeen > interval * DispatchPolicy.MissedHeartbeats)
                .Select(w => w.Id)
                .ToList();
            foreach (var id in silent)
                LoseWorker(id, $"silent ({DispatchPolicy.MissedHeartbeats} heartbeats missed)", saidGoodbye: false);
        }

        var overdue = _tasks.Values.Where(t => t.Phase == TaskPhase.InFlight && t.Deadline <= now).OrderByDescending(t => t.AskedAt).ToList();
        foreach (var task in overdue) TakeBack(task, $"worker {task.WorkerId} did not answer within {policy.TaskTimeout}");

        // Oldest last, so that it ends up at the head of the queue.
        foreach (var task in _tasks.Values.Where(t => t.Phase == TaskPhase.Held && t.HasText && t.HeldUntil <= now).OrderByDescending(t => t.AskedAt).ToList())
            Raise(new TaskReleased(task.TaskId));

        foreach (var task in _tasks.Values.Where(t => t.Phase == TaskPhase.Completing && now - t.OutcomeSentAt >= DispatchPolicy.OutcomeResendAfter).ToList())
            Raise(new OutcomeSent(task.TaskId, now));

        foreach (var (id, _) in _kept.Where(k => k.Value.Until <= now).ToList()) Raise(new KeptResultDropped(id));

        _finished.Forget(now - policy.FinishedMemory);
        Drain();
        return End(events);
    }

    /// <summary>
    /// The in-flight task whose answer this worker may stream: the task must be assigned to it, and to the same
    /// attempt when the worker names one (0: it does not know). Stale attempts and other workers get null.
    /// </summary>
    public DispatchTask? StreamingTask(string taskId, string workerId, int attempt, string sessionAlias) =>
        _tasks.TryGetValue(taskId, out var task) && task.Phase == TaskPhase.InFlight && task.WorkerId == workerId
        && (attempt == 0 || attempt == task.Attempt) && Keys.IsSessionAlias(taskId, workerId, sessionAlias)
            ? task
            : null;

    /// <summary>
    /// The user's API key of a task, for the worker it is assigned to and only with its assignment's alias: the key
    /// fetch of workers that never read keys off the broker. Null otherwise (the task is gone, moved or not theirs).
    /// </summary>
    public string? KeyFor(string taskId, string workerId, string sessionAlias) =>
        StreamingTask(taskId, workerId, attempt: 0, sessionAlias) is { ApiKey: { Length: > 0 } key } ? key : null;

    /// <summary>
    /// Queued tasks whose position changed since it was last reported. Far back in a long queue only changes of a
    /// tenth or more count: nobody needs to hear that position 4,312 became 4,311.
    /// </summary>
    public IReadOnlyList<(DispatchTask Task, int Position)> ChangedPositions()
    {
        var changed = new List<(DispatchTask, int)>();
        foreach (var (task, position) in Queue.Positions())
        {
            var last = _reportedPositions.GetValueOrDefault(task.TaskId);
            if (last == position) continue;
            if (last > 0 && position > 100 && Math.Abs(last - position) * 10 < last) continue;
            _reportedPositions[task.TaskId] = position;
            changed.Add((task, position));
        }
        return changed;
    }

    // ------------------------------------------------------------------ snapshot

    /// <summary>The dispatcher's durable form: its open tasks without texts or keys, and the journal position it covers.</summary>
    public DispatcherSnapshot ToSnapshot(long watermark) => new(watermark,
        [.. _tasks.Values.OrderBy(t => t.AskedAt).Select(t => new OpenTaskRecord(t.TaskId, t.SessionId, t.AskedAt, t.Attempt,
            t.Phase == TaskPhase.InFlight ? t.WorkerId : null, t.Phase == TaskPhase.InFlight ? t.Deadline?.ToUnixTimeMilliseconds() : null,
            t.PreviousWorkerId))]);

    /// <summary>
    /// After a restart: every open task of the snapshot comes back without its text (its session sends it again).
    /// Tasks in flight stay on their worker with their deadline, so that worker's result is taken; the rest are held.
    /// Tasks found only in the journal (asked after the snapshot) are held for <see cref="DispatchPolicy.RecoveryGrace"/>.
    /// </summary>
    public IReadOnlyList<DispatchEvent> Restore(DispatcherSnapshot snapshot)
    {
        var events = Begin();
        BeginRecoveryGrace();
        foreach (var r in snapshot.Tasks)
        {
            if (_tasks.ContainsKey(r.TaskId)) continue;
            var task = new DispatchTask(r.TaskId, r.SessionId, r.AskedAt) { Attempt = r.Attempt, PreviousWorkerId = r.PreviousWorkerId };
            if (r.WorkerId is not null && r.Deadline is { } deadline)
            {
                task.Phase = TaskPhase.InFlight;
                task.WorkerId = r.WorkerId;
                task.Deadline = DateTimeOffset.FromUnixTimeMilliseconds(deadline);
            }
            else
            {
                task.Phase = TaskPhase.Held;
                task.HeldUntil = _recoveryGraceEnds;
            }
            Raise(new TaskAccepted(task));
        }
        return End(events);
    }

    /// <summary>
    /// The dispatcher has (re)started, from a snapshot or without one (it died before its first): for
    /// <see cref="DispatchPolicy.RecoveryGrace"/>, questions sent again are held for a claim by the worker still running
    /// them, and results that come before their questions are kept. Without this a takeover before the first snapshot
    /// would run every task in flight twice. Starting once: a second call does not extend it.
    /// </summary>
    public void BeginRecoveryGrace()
    {
        if (_recoveryGraceEnds == DateTimeOffset.MinValue) _recoveryGraceEnds = clock() + policy.RecoveryGrace;
    }

    // ------------------------------------------------------------------ apply

    /// <summary>The one place the state changes.</summary>
    public void Apply(DispatchEvent e)
    {
        var now = clock();
        switch (e)
        {
            case TaskAccepted(var task):
                _tasks[task.TaskId] = task;
                if (task.Phase == TaskPhase.Queued) Queue.Enqueue(task);
                if (task.Phase == TaskPhase.InFlight)
                {
                    InFlightCount++;
                    Workers.Find(task.WorkerId!)?.ActiveTasks.Add(task.TaskId);
                }
                break;
            case TaskTextRestored(var id, var request):
            {
                var task = _tasks[id];
                task.Query = request.Query;
                task.History = request.History;
                task.System = request.System;
                task.Model = request.Model;
                break;
            }
            case TaskAssigned(var id, var workerId, var attempt, var at, var deadline):
            {
                var task = _tasks[id];
                Queue.Remove(task);
                _reportedPositions.Remove(id);
                if (task.Phase != TaskPhase.InFlight) InFlightCount++;
                (task.Phase, task.WorkerId, task.Attempt, task.AssignedAt, task.Deadline, task.HeldUntil) =
                    (TaskPhase.InFlight, workerId, attempt, at, deadline, null);
                Workers.Find(workerId)?.ActiveTasks.Add(id);
                break;
            }
            case TaskClaimed(var id, var workerId, var deadline):
            {
                var task = _tasks[id];
                InFlightCount++;
                (task.Phase, task.WorkerId, task.Attempt, task.AssignedAt, task.Deadline, task.HeldUntil) =
                    (TaskPhase.InFlight, workerId, Math.Max(task.Attempt, 1), now, deadline, null);
                Workers.Find(workerId)?.ActiveTasks.Add(id);
                break;
            }
            case TaskReturned(var id, _):
            {
                var task = _tasks[id];
                LeaveWorker(task);
                task.PreviousWorkerId = task.WorkerId;
                (task.WorkerId, task.AssignedAt, task.Deadline) = (null, null, null);
                if (task.HasText)
                {
                    task.Phase = TaskPhase.Queued;
                    Queue.EnqueueFirst(task);
                }
                else
                {
                    task.Phase = TaskPhase.Held; // dispatchable again once its session has sent the text
                    task.HeldUntil = now;
                }
                break;
            }
            case TaskUnpublished(var id):
            {
                var task = _tasks[id];
                LeaveWorker(task);
                (task.WorkerId, task.AssignedAt, task.Deadline, task.Attempt) = (null, null, null, task.Attempt - 1);
                task.Phase = TaskPhase.Queued;
                Queue.EnqueueFirst(task);
                break;
            }
            case TaskReleased(var id):
            {
                var task = _tasks[id];
                (task.Phase, task.HeldUntil) = (TaskPhase.Queued, null);
                Queue.EnqueueFirst(task);
                break;
            }
            case ResultKept(var result, var until):
                _kept[result.TaskId] = (result, until);
                break;
            case KeptResultDropped(var id):
                _kept.Remove(id);
                break;
            case TaskCompleted(var id, var outcome):
            {
                _kept.Remove(id);
                var task = _tasks[id];
                if (Workers.Find(outcome.WorkerId) is { } worker)
                {
                    worker.Completed++;
                    worker.LastSeen = now;
                }
                Finish(task, outcome, now);
                break;
            }
            case TaskGaveUp(var id, var outcome):
                Finish(_tasks[id], outcome, now);
                break;
            case OutcomeSent(var id, var at):
                _tasks[id].OutcomeSentAt = at;
                break;
            case TaskFinished(var id):
                _tasks.Remove(id);
                CompletingCount--;
                _finished.Add(id, now);
                break;
            case TaskCancelled(var id, _, _):
            {
                var task = _tasks[id];
                LeaveWorker(task);
                Queue.Remove(task);
                _reportedPositions.Remove(id);
                _tasks.Remove(id);
                break;
            }
            case WorkerJoined(var id, var capacity, var description, _):
            {
                var completed = _departed.Remove(id, out var before) ? before.Completed : 0;
                _left.Remove(id);
                var worker = Workers.Register(id, capacity, now, description);
                if (worker.Completed == 0) worker.Completed = completed;
                // Tasks in flight on this worker (recovered, or kept across a reconnect) count in its slots again.
                foreach (var t in _tasks.Values)
                    if (t.Phase == TaskPhase.InFlight && t.WorkerId == id) worker.ActiveTasks.Add(t.TaskId);
                break;
            }
            case WorkerSeen(var id, var reported, var draining):
                if (Workers.Find(id) is { } seen)
                {
                    seen.LastSeen = now;
                    if (reported is not null) seen.ReportedStatus = reported;
                    if (draining) seen.Draining = true; // only a new registration opens it again
                }
                break;
            case WorkerLost(var id, _, var saidGoodbye, _):
                if (Workers.Remove(id, out var lost) && lost is not null)
                {
                    if (saidGoodbye) RememberLeft(id);
                    else RememberDeparted(lost);
                }
                break;
            case BrokerConnectionChanged(var connected):
                BrokerConnected = connected;
                if (connected)
                    foreach (var w in Workers.All) w.LastSeen = now;
                break;
            case DispatcherPaused(var lostTime):
                foreach (var w in Workers.All) w.LastSeen += lostTime;
                foreach (var t in _tasks.Values)
                    if (t.Deadline is { } d) t.Deadline = d + lostTime;
                break;
        }
    }

    // ------------------------------------------------------------------ helpers

    private void Finish(DispatchTask task, TaskOutcome outcome, DateTimeOffset now)
    {
        LeaveWorker(task);
        Queue.Remove(task);
        _reportedPositions.Remove(task.TaskId);
        (task.Phase, task.Outcome, task.OutcomeSentAt, task.HeldUntil) = (TaskPhase.Completing, outcome, now, null);
        CompletingCount++;
    }

    /// <summary>Takes an in-flight task off its worker's slot count (a no-op for other phases).</summary>
    private void LeaveWorker(DispatchTask task)
    {
        if (task.Phase != TaskPhase.InFlight) return;
        InFlightCount--;
        if (task.WorkerId is { } w) Workers.Find(w)?.ActiveTasks.Remove(task.TaskId);
    }

    private void LoseWorker(string workerId, string reason, bool saidGoodbye)
    {
        if (Workers.Find(workerId) is not { } worker) return;
        var orphans = worker.ActiveTasks.Select(id => _tasks[id]).OrderByDescending(t => t.AskedAt).ToList();
        Raise(new WorkerLost(workerId, reason, saidGoodbye, orphans.Count));
        foreach (var task in orphans) // newest first: the oldest ends up at the head of the queue
            TakeBack(task, $"its worker {workerId} went {reason}");
    }

    /// <summary>A task taken from its worker goes to the head of the queue, or fails when it has had its attempts.</summary>
    private void TakeBack(DispatchTask task, string why)
    {
        if (task.Attempt >= policy.MaxAttempts)
        {
            Raise(new TaskGaveUp(task.TaskId, new TaskOutcome(task.TaskId, null,
                $"No worker could answer this question after {task.Attempt} attempt(s) (last: {why}). Please ask again.",
                Retryable: true, task.WorkerId ?? "", "", 0, clock().ToUnixTimeMilliseconds())));
            return;
        }
        Raise(new TaskReturned(task.TaskId, why));
    }

    /// <summary>Hands queued tasks to free slots.</summary>
    private void Drain()
    {
        while (BrokerConnected && Queue.Peek() is { } next && Workers.PickWorker(avoid: next.PreviousWorkerId) is { } worker)
        {
            var now = clock();
            Raise(new TaskAssigned(next.TaskId, worker.Id, next.Attempt + 1, now, now + policy.TaskTimeout));
        }
    }

    private DispatchTask? Match(WorkerResult result)
    {
        if (string.IsNullOrEmpty(result.WorkerId)) return null;
        if (!string.IsNullOrEmpty(result.TaskId))
        {
            if (!_tasks.TryGetValue(result.TaskId, out var byId)) return null;
            if (!Keys.IsSessionAlias(byId.TaskId, result.WorkerId, result.SessionId)) return null; // not from its worker
            return byId.Phase switch
            {
                TaskPhase.InFlight when byId.WorkerId == result.WorkerId => byId,
                TaskPhase.Held => byId, // after a restart its worker is not known: whoever ran it may answer
                TaskPhase.Completing => byId,
                _ => null,
            };
        }
        // An old worker sends no task id: the task in flight on it with this session and timestamp.
        if (Workers.Find(result.WorkerId) is not { } worker) return null;
        foreach (var id in worker.ActiveTasks)
        {
            var t = _tasks[id];
            if (t.AskedAt == result.QueryTimestamp && Keys.IsSessionAlias(t.TaskId, worker.Id, result.SessionId)) return t;
        }
        return null;
    }

    private TaskOutcome OutcomeOf(DispatchTask task, WorkerResult r) => new(task.TaskId,
        string.IsNullOrEmpty(r.Error) ? r.Answer : null, string.IsNullOrEmpty(r.Error) ? null : r.Error,
        Retryable: !r.PermanentError, r.WorkerId, r.Provider, r.ProcessingTimeMs,
        r.CompletionTimestamp != 0 ? r.CompletionTimestamp : clock().ToUnixTimeMilliseconds(), r.PromptTokens, r.OutputTokens);

    private static TaskStatusView StatusOf(DispatchTask task) => task.Phase switch
    {
        TaskPhase.InFlight => new TaskStatusView(TaskStatusView.Assigned, null, task.WorkerId, task.Attempt),
        TaskPhase.Completing => new TaskStatusView(TaskStatusView.Answered, null, task.WorkerId, task.Attempt),
        _ => new TaskStatusView(TaskStatusView.Queued, null, null, task.Attempt),
    };

    private void RememberDeparted(WorkerInfo departed)
    {
        if (_departed.Count >= DepartedMemory) _departed.Remove(_departed.Keys.First());
        _departed[departed.Id] = (departed.Capacity, departed.Description, departed.Completed);
    }

    private void RememberLeft(string workerId)
    {
        if (_left.Count >= DepartedMemory) _left.Remove(_left.First());
        _left.Add(workerId);
    }

    private List<DispatchEvent> Begin() => _raised = [];

    private void Raise(DispatchEvent e)
    {
        Apply(e);
        _raised!.Add(e);
    }

    private IReadOnlyList<DispatchEvent> End(List<DispatchEvent> events)
    {
        _raised = null;
        return events;
    }

    private Admission End(List<DispatchEvent> events, AdmissionStatus status, DispatchTask? task, string? error)
    {
        _raised = null;
        var view = task is null ? null : StatusOf(task);
        if (task is { Phase: TaskPhase.Queued })
        {
            // The position goes out with the admission; later changes are reported by ChangedPositions.
            var position = Queue.PositionOf(task);
            _reportedPositions[task.TaskId] = position;
            view = view! with { Position = position };
        }
        return new Admission(status, view, error, events);
    }

    private ResultDecision End(List<DispatchEvent> events, ResultStatus status, string message, string? taskId)
    {
        _raised = null;
        return new ResultDecision(status, message, taskId, events);
    }
}

/// <summary>Finished task ids, forgotten after a while (oldest first), and never more than a cap.</summary>
public sealed class FinishedTasks(int cap)
{
    private readonly HashSet<string> _ids = new(StringComparer.Ordinal);
    private readonly Queue<(string Id, DateTimeOffset At)> _order = new();

    public int Count => _ids.Count;
    public bool Contains(string taskId) => _ids.Contains(taskId);

    public void Add(string taskId, DateTimeOffset at)
    {
        if (!_ids.Add(taskId)) return;
        _order.Enqueue((taskId, at));
        while (_order.Count > cap) _ids.Remove(_order.Dequeue().Id);
    }

    public void Forget(DateTimeOffset before)
    {
        while (_order.TryPeek(out var oldest) && oldest.At < before) _ids.Remove(_order.Dequeue().Id);
    }
}
