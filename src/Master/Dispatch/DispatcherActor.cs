using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Pattern;
using Akka.Persistence;
using AiSystem.Master.Configuration;
using AiSystem.Master.Dashboard;
using AiSystem.Master.Observability;
using AiSystem.Master.Sessions;
using AiSystem.Messages;
using AiSystem.Messages.Cluster;
using AiSystem.Messages.Grpc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiSystem.Master.Dispatch;

/// <summary>
/// The single owner of worker state and of the task queue (a cluster singleton). Decisions are made by
/// <see cref="DispatchState"/>; this actor feeds it messages and carries out what its events call for: MQTT
/// publishes, notices and outcomes to sessions, acknowledgements to workers, logs and metrics. It journals nothing
/// per question: about once a second it saves a snapshot of its open tasks (no texts), and after a restart it wakes
/// the sessions that may have open questions, which send them again.
/// </summary>
public sealed partial class DispatcherActor : ReceivePersistentActor, IWithTimers
{
    public const string PersistenceIdValue = "dispatcher-state";
    /// <summary>The snapshot's watermark lags the journal by this much, so a write still in flight cannot fall below it.</summary>
    private static readonly TimeSpan WatermarkLag = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan SnapshotInterval = TimeSpan.FromSeconds(1);
    /// <summary>How long the watermark waits for the sessions woken after a restart to list their open questions.</summary>
    private static readonly TimeSpan RecoveryListingPatience = TimeSpan.FromSeconds(60);
    private const int MaxAckWaiters = 8;

    private readonly DispatchState _state;
    private readonly ITaskPublisher _publisher;
    private readonly IActorRef _sessions;
    private readonly IJournalIndex _journal;
    private readonly ILogger<DispatcherActor> _log;
    private readonly string _grpcEndpoint;
    private readonly MasterMetrics _metrics;
    private readonly AnswerSeries _answers = new();
    /// <summary>Tokens by model since this dispatcher started (<c>GET /api/usage</c>).</summary>
    private readonly Dictionary<string, ModelUsage> _usage = new(StringComparer.Ordinal);
    /// <summary>gRPC calls waiting for their task's outcome to be stored.</summary>
    private readonly Dictionary<string, List<IActorRef>> _acks = new(StringComparer.Ordinal);
    /// <summary>
    /// The session actor that submitted each open task: notices and the first copy of its outcome go straight there,
    /// without the shard region's two hops. If that session has moved meanwhile (its master died), notices are lost
    /// (best effort) and the outcome comes again through the region (resent every few seconds until stored).
    /// </summary>
    private readonly Dictionary<string, IActorRef> _sessionOf = new(StringComparer.Ordinal);
    private readonly Queue<(DateTimeOffset At, long Ordering)> _readings = new();
    private readonly HashSet<string> _awaitingListings = new(StringComparer.Ordinal);
    private DateTimeOffset _recoveryListingDeadline;
    private long _watermark;
    private bool _dirty;
    private bool _snapshotting;
    private int _ticks;

    public override string PersistenceId => PersistenceIdValue;
    public ITimerScheduler Timers { get; set; } = null!;

    public DispatcherActor(ITaskPublisher publisher, IActorRef sessions, IJournalIndex journal, DispatcherSettings settings,
        MasterMetrics metrics, ILogger<DispatcherActor> log)
    {
        _metrics = metrics;
        _publisher = publisher;
        _sessions = sessions;
        _journal = journal;
        _log = log;
        _grpcEndpoint = settings.GrpcEndpoint;
        _state = new DispatchState(settings.Policy, () => DateTimeOffset.UtcNow, settings.Keys);

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is not DispatcherSnapshot snapshot) return;
            _state.Restore(snapshot);
            _watermark = snapshot.Watermark;
        });
        Recover<RecoveryCompleted>(_ =>
        {
            _state.BeginRecoveryGrace(); // also when there was no snapshot to restore
            var sessionsOfSnapshot = _state.Tasks.Select(t => t.SessionId).ToHashSet(StringComparer.Ordinal);
            if (sessionsOfSnapshot.Count > 0)
                _log.LogInformation("Dispatcher recovered {Count} open task(s) from its snapshot; their sessions send them again", _state.OpenCount);
            Wake(sessionsOfSnapshot);
            ScanJournal();
        });

        Command<RecoveryScanned>(m =>
        {
            if (m.SessionIds.Count > 0)
                _log.LogInformation("Dispatcher found {Count} session(s) written to after its snapshot; they send their open questions again",
                    m.SessionIds.Count);
            Wake(m.SessionIds);
        });
        Command<RecoveryScanFailed>(m =>
        {
            _log.LogWarning("Dispatcher could not read the journal after its snapshot ({Error}); trying again", m.Error);
            Timers.StartSingleTimer("scan", RetryScan.Instance, TimeSpan.FromSeconds(2));
        });
        Command<RetryScan>(_ => ScanJournal());

        Command<SubmitTask>(m =>
        {
            var admission = _state.Submit(m.Task, m.Resubmitted);
            var t = m.Task;
            switch (admission.Status)
            {
                case AdmissionStatus.Refused:
                    LogRefused(t.TaskId, SessionIds.Short(t.SessionId), admission.Error!);
                    Sender.Tell(new TaskRefused(t.SessionId, t.TaskId, admission.Error!));
                    break;
                case AdmissionStatus.AlreadyFinished when m.Resubmitted:
                    // A late resubmission of a question whose outcome its session has stored meanwhile: nothing to do.
                    Sender.Tell(new TaskAdmitted(t.SessionId, t.TaskId, new TaskStatusView(TaskStatusView.Answered, null, null, 0)));
                    break;
                case AdmissionStatus.AlreadyFinished:
                    // A new question under the id of a finished one (of this session or another): never a second answer.
                    Sender.Tell(new TaskRefused(t.SessionId, t.TaskId, "This task id was used for an earlier question. Send the question again with a new id."));
                    break;
                default:
                    _sessionOf[t.TaskId] = Sender;
                    Sender.Tell(new TaskAdmitted(t.SessionId, t.TaskId, admission.Task!));
                    if (!m.Resubmitted && admission.Events.OfType<TaskAccepted>().Any()) _metrics.Received();
                    // The session asks again because it lacks the outcome: send it now rather than at the next resend.
                    if (_state.Find(t.TaskId) is { Phase: TaskPhase.Completing, Outcome: { } outcome })
                        _sessions.Tell(new RecordOutcome(t.SessionId, outcome));
                    break;
            }
            Carry(admission.Events, admitted: t.TaskId);
        });

        Command<CancelTask>(m => Carry(_state.Cancel(m.TaskId, m.SessionId)));

        Command<OpenTasksListed>(m =>
        {
            _awaitingListings.Remove(m.SessionId);
            Carry(_state.OpenTasksListed(m.SessionId, m.TaskIds));
        });

        Command<RegisterWorker>(m =>
        {
            var r = m.Registration;
            var description = new WorkerDescription(r.Language ?? "", r.Host ?? "", r.Version ?? "", r.Provider ?? "",
                string.IsNullOrEmpty(r.ClusterAddress) ? null : r.ClusterAddress,
                r.HeartbeatIntervalMs is > 0 ? TimeSpan.FromMilliseconds(r.HeartbeatIntervalMs.Value) : null,
                FetchesKeys: r.FetchesKeys == true);
            Carry(_state.Register(r.WorkerId, r.Capacity, description));
        });

        Command<FetchTaskKey>(m => Sender.Tell(_state.KeyFor(m.TaskId, m.WorkerId, m.SessionAlias) is { } key
            ? new TaskKey(key, "")
            : new TaskKey("", "No key for this task here: it is not assigned to this worker any more, or it has no key of its own.")));

        Command<ReportWorkerStatus>(m =>
        {
            var s = m.Status;
            Carry(s.Status == WorkerStatuses.Offline ? _state.RemoveWorker(s.WorkerId)
                : _state.Touch(s.WorkerId, s.Status, s.Capacity, draining: s.Draining == true));
        });

        Command<ReportWorkerHeartbeat>(m =>
        {
            var h = m.Heartbeat;
            Carry(_state.Touch(h.WorkerId, h.Status, h.Capacity,
                h.HeartbeatIntervalMs is > 0 ? TimeSpan.FromMilliseconds(h.HeartbeatIntervalMs.Value) : null, h.TaskIds));
        });

        Command<SetBrokerConnection>(m => Carry(_state.SetBrokerConnected(m.Connected)));
        Command<RemoveWorkersAt>(m => Carry(_state.RemoveWorkersAt(m.Address)));

        Command<DispatchTick>(_ =>
        {
            Carry(_state.Tick());
            if (++_ticks % 2 == 0) ReportPositions(); // at most once a second
            UpdateGauges();
        });

        Command<CompleteTask>(m =>
        {
            var decision = _state.Complete(m.Result);
            switch (decision.Status)
            {
                case ResultStatus.Refused:
                    LogResultRefused(m.Result.WorkerId, m.Result.TaskId, decision.Message);
                    Sender.Tell(new ResultAck { Success = false, Message = decision.Message });
                    break;
                case ResultStatus.Duplicate:
                    LogDuplicate(m.Result.TaskId, m.Result.WorkerId);
                    Sender.Tell(new ResultAck { Success = true, Message = decision.Message });
                    break;
                default:
                    // The worker hears "accepted" once its session has stored the outcome: from then on it cannot be lost.
                    // Its slot is free already (the next task may be on its way).
                    if (!_acks.TryGetValue(decision.TaskId!, out var waiters)) _acks[decision.TaskId!] = waiters = [];
                    if (waiters.Count < MaxAckWaiters) waiters.Add(Sender);
                    if (decision.Status == ResultStatus.AwaitingStorage) LogDuplicate(m.Result.TaskId, m.Result.WorkerId);
                    if (decision.Status == ResultStatus.Kept) LogKept(m.Result.TaskId, m.Result.WorkerId);
                    break;
            }
            Carry(decision.Events);
        });

        Command<OutcomeStored>(m => Carry(_state.OutcomeStored(m.TaskId)));

        // The per-chunk path: an in-memory check and a tell, no journal, no info logs.
        Command<StreamTaskText>(m =>
        {
            if (_state.StreamingTask(m.TaskId, m.WorkerId, m.Attempt, m.SessionId) is { } task)
                SessionOf(task.TaskId).Tell(new TaskTextStreamed(task.SessionId, task.TaskId, task.Attempt, m.Offset, m.Text));
        });

        Command<TaskPublishFailed>(m =>
        {
            LogPublishFailed(m.TaskId, m.Error);
            Carry(_state.PublishFailed(m.TaskId, m.Attempt));
        });

        Command<GetDispatchView>(_ => Sender.Tell(View()));
        Command<DispatcherPing>(_ => Sender.Tell(new DispatcherPong(_state.Tasks.Count(), _state.Workers.Count)));
        Command<GetAnswerSeries>(_ => Sender.Tell(_answers.View(DateTimeOffset.UtcNow)));

        Command<SnapshotTick>(_ =>
        {
            if (_snapshotting) return;
            _snapshotting = true;
            var at = DateTimeOffset.UtcNow;
            _journal.HighestOrderingAsync().PipeTo(Self, success: o => new WatermarkRead(at, o), failure: _ => new WatermarkRead(at, -1));
        });
        Command<WatermarkRead>(m =>
        {
            if (m.Ordering >= 0)
            {
                _readings.Enqueue((m.At, m.Ordering));
                while (_readings.Count > 30) _readings.Dequeue();
            }
            if (!_dirty)
            {
                _snapshotting = false;
                return;
            }
            AdvanceWatermark(m.At);
            _dirty = false;
            SaveSnapshot(_state.ToSnapshot(_watermark));
        });
        Command<SaveSnapshotSuccess>(_ => _snapshotting = false);
        Command<SaveSnapshotFailure>(m =>
        {
            _snapshotting = false;
            _dirty = true;
            _log.LogWarning("Dispatcher snapshot not saved ({Error}); trying again", m.Cause.GetType().Name);
        });
    }

    protected override void PreStart()
    {
        base.PreStart();
        Timers.StartPeriodicTimer("tick", DispatchTick.Instance, DispatchPolicy.TickInterval);
        Timers.StartPeriodicTimer("snapshot", SnapshotTick.Instance, SnapshotInterval);
    }

    /// <summary>
    /// The newest journal position read at least <see cref="WatermarkLag"/> ago: every session write below it has been
    /// seen (its question reached the dispatcher before the write finished). Frozen while sessions woken after a
    /// restart have not listed their open questions yet: until then, only the journal after the old watermark says
    /// which sessions to wake.
    /// </summary>
    private void AdvanceWatermark(DateTimeOffset now)
    {
        if (_awaitingListings.Count > 0 && now < _recoveryListingDeadline) return;
        if (_awaitingListings.Count > 0)
        {
            _log.LogWarning("{Count} session(s) woken after the restart did not list their questions within {Patience}; going on without them",
                _awaitingListings.Count, RecoveryListingPatience);
            _awaitingListings.Clear();
        }
        foreach (var (at, ordering) in _readings)
            if (at <= now - WatermarkLag && ordering > _watermark) _watermark = ordering;
    }

    private void ScanJournal()
    {
        var after = _watermark;
        _journal.PersistenceIdsWrittenAfterAsync(after, "session-", int.MaxValue).PipeTo(Self,
            success: ids => new RecoveryScanned([.. ids.Select(id => id["session-".Length..])]),
            failure: e => new RecoveryScanFailed(e.GetType().Name));
    }

    private void Wake(IEnumerable<string> sessionIds)
    {
        _recoveryListingDeadline = DateTimeOffset.UtcNow + RecoveryListingPatience;
        foreach (var id in sessionIds)
        {
            if (!_awaitingListings.Add(id)) continue;
            _sessions.Tell(new ResubmitOpenTasks(id));
        }
    }

    /// <summary>Carries out what the events call for.</summary>
    /// <param name="admitted">The task whose admission reply already told its session where it stands.</param>
    private void Carry(IReadOnlyList<DispatchEvent> events, string? admitted = null)
    {
        foreach (var e in events)
        {
            switch (e)
            {
                case TaskCancelled c:
                    _dirty = true;
                    _sessionOf.Remove(c.TaskId);
                    if (c.WorkerId is { } runningOn) StopOnWorker(c.TaskId, runningOn, c.Attempt);
                    break;
                case TaskAccepted or TaskTextRestored or TaskUnpublished or TaskClaimed:
                    _dirty = true;
                    break;
                case TaskAssigned a:
                {
                    _dirty = true;
                    var task = _state.Find(a.TaskId)!;
                    Publish(task);
                    if (a.TaskId != admitted)
                        SessionOf(task.TaskId).Tell(new TaskStatusChanged(task.SessionId, task.TaskId,
                            new TaskStatusView(TaskStatusView.Assigned, null, a.WorkerId, a.Attempt)));
                    break;
                }
                case TaskReturned r:
                    _dirty = true;
                    _metrics.Redispatched();
                    LogReturned(r.TaskId, r.Reason);
                    break;
                case TaskReleased r:
                    _dirty = true;
                    _log.LogInformation("Task {TaskId} was not claimed by any worker after the restart: it is dispatched again", r.TaskId);
                    break;
                case TaskCompleted c:
                {
                    _dirty = true;
                    var task = _state.Find(c.TaskId)!;
                    var now = DateTimeOffset.UtcNow;
                    var latency = now - DateTimeOffset.FromUnixTimeMilliseconds(task.AskedAt);
                    var answered = c.Outcome.Error is null;
                    if (answered) _metrics.Answered(latency, TimeSpan.FromMilliseconds(c.Outcome.ProcessingTimeMs));
                    else _metrics.Failed();
                    _metrics.Tokens(c.Outcome.Provider, c.Outcome.PromptTokens, c.Outcome.OutputTokens);
                    _answers.Record(now, latency, answered, c.Outcome.PromptTokens, c.Outcome.OutputTokens);
                    if (answered) CountUsage(c.Outcome);
                    SessionOf(task.TaskId).Tell(new RecordOutcome(task.SessionId, c.Outcome));
                    break;
                }
                case TaskGaveUp g:
                {
                    _dirty = true;
                    var task = _state.Find(g.TaskId)!;
                    _metrics.Failed();
                    _answers.Record(DateTimeOffset.UtcNow, TimeSpan.Zero, answered: false);
                    LogGaveUp(task.TaskId, SessionIds.Short(task.SessionId), g.Outcome.Error!);
                    SessionOf(task.TaskId).Tell(new RecordOutcome(task.SessionId, g.Outcome));
                    break;
                }
                case OutcomeSent s:
                    if (_state.Find(s.TaskId) is { Outcome: { } outcome } pending)
                        _sessions.Tell(new RecordOutcome(pending.SessionId, outcome));
                    break;
                case TaskFinished f:
                    _dirty = true;
                    _sessionOf.Remove(f.TaskId);
                    if (_acks.Remove(f.TaskId, out var waiters))
                    {
                        var ack = new ResultAck { Success = true, Message = "Result accepted." };
                        foreach (var w in waiters) w.Tell(ack);
                    }
                    break;
                case KeptResultDropped k:
                    if (_acks.Remove(k.TaskId, out var refused))
                    {
                        var ack = new ResultAck { Success = false, Message = "No task matching this result is open: its question did not come back after the restart." };
                        foreach (var w in refused) w.Tell(ack);
                    }
                    break;
                case WorkerJoined j:
                    LogWorkerJoined(j.WorkerId, j.Again ? "registered again" : "registered", j.Description.Language.Length > 0 ? j.Description.Language : "unknown language",
                        j.Capacity, j.Description.Provider.Length > 0 ? j.Description.Provider : "unknown");
                    break;
                case WorkerLost l:
                    LogWorkerLost(l.WorkerId, l.Reason, l.TasksReturned);
                    break;
                case BrokerConnectionChanged b:
                    _log.LogInformation("Broker connection {State}", b.Connected ? "up: dispatching resumes" : "down: dispatching paused");
                    break;
            }
        }
        if (events.Count > 0) _metrics.SetTasks(_state.Queue.Count, _state.InFlightCount);
    }

    private void ReportPositions()
    {
        foreach (var (task, position) in _state.ChangedPositions())
            SessionOf(task.TaskId).Tell(new TaskStatusChanged(task.SessionId, task.TaskId, new TaskStatusView(TaskStatusView.Queued, position, null, task.Attempt)));
    }

    /// <summary>The session that submitted the task, or the shard region when that is not known (after a restart).</summary>
    private IActorRef SessionOf(string taskId) => _sessionOf.GetValueOrDefault(taskId) ?? _sessions;

    private void UpdateGauges()
    {
        var busy = 0;
        foreach (var w in _state.Workers.All) if (w.ActiveTasks.Count > 0) busy++;
        _metrics.SetState(_state.Queue.Count, _state.InFlightCount, _state.Workers.Count - busy, busy);
    }

    private void Publish(DispatchTask task)
    {
        // A worker that fetches keys never finds the user's key on the broker: it asks for it, proving the assignment.
        var held = task.ApiKey.Length > 0 && _state.Workers.Find(task.WorkerId!)?.Description.FetchesKeys == true;
        var message = new TaskMessage
        {
            WorkerId = task.WorkerId!,
            SessionId = _state.AliasOf(task), // the real session id never travels on the broker
            Query = task.Query!,
            ApiKey = held ? "" : task.ApiKey,
            ApiKeyHeld = held ? true : null,
            GrpcEndpoint = _grpcEndpoint,
            Timestamp = task.AskedAt,
            TaskId = task.TaskId,
            Attempt = task.Attempt,
            Deadline = task.Deadline?.ToUnixTimeMilliseconds(),
            Model = task.Model,
            History = task.History is { Count: > 0 } history ? history : null,
            SystemInstruction = string.IsNullOrEmpty(task.System) ? null : task.System,
        };
        var publish = _publisher.PublishTaskAsync(message);
        LogAssigned(task.TaskId, SessionIds.Short(task.SessionId), task.WorkerId!, task.Attempt); // after the publish: the worker need not wait for it
        if (publish.IsCompletedSuccessfully) return;
        var self = Self;
        var (taskId, attempt) = (task.TaskId, task.Attempt);
        publish.ContinueWith(t => self.Tell(new TaskPublishFailed(taskId, attempt, t.Exception!.GetBaseException().Message)),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// The worker running a cancelled task is told to stop it (best effort: a worker that misses it, or an old one that
    /// cannot stop, finishes the call, and its late result is refused as a task nobody waits for).
    /// </summary>
    private void StopOnWorker(string taskId, string workerId, int attempt)
    {
        var cancel = new CancelMessage { TaskId = taskId, WorkerId = workerId, Attempt = attempt, Timestamp = EpochMs.Now() };
        _publisher.PublishCancelAsync(cancel).ContinueWith(t => _log.LogWarning("Task {TaskId}: the stop did not reach worker {WorkerId} ({Error})",
                taskId, workerId, t.Exception!.GetBaseException().GetType().Name),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _log.LogInformation("Task {TaskId} stopped on worker {WorkerId}", taskId, workerId);
    }

    private void CountUsage(TaskOutcome outcome)
    {
        var provider = outcome.Provider.Length == 0 ? "unknown" : outcome.Provider;
        var before = _usage.GetValueOrDefault(provider) ?? new ModelUsage(provider, 0, 0, 0, 0);
        _usage[provider] = before with
        {
            Answers = before.Answers + 1,
            AnswersWithTokens = before.AnswersWithTokens + (outcome.PromptTokens is null && outcome.OutputTokens is null ? 0 : 1),
            PromptTokens = before.PromptTokens + (outcome.PromptTokens ?? 0),
            OutputTokens = before.OutputTokens + (outcome.OutputTokens ?? 0),
        };
    }

    private DispatchView View()
    {
        var workers = _state.Workers.All
            .OrderBy(w => w.Sequence)
            .Select(w => new WorkerView(w.Id, w.Description.Language, w.Description.Host, w.Status, w.ReportedStatus, w.Capacity,
                w.ActiveTasks.Count, w.LastSeen, w.Completed, w.Description.Provider, w.Description.Version, w.Description.ClusterAddress))
            .ToList();
        var positions = _state.Queue.Positions().ToDictionary(p => p.Task.TaskId, p => p.Position, StringComparer.Ordinal);
        var tasks = _state.Tasks
            .OrderBy(t => t.AskedAt)
            .Select(t => new TaskView(t.TaskId, SessionIds.Short(t.SessionId), t.Phase switch
                {
                    TaskPhase.Queued => "queued",
                    TaskPhase.InFlight => "in-flight",
                    TaskPhase.Held => "held",
                    _ => "completing",
                }, t.Phase == TaskPhase.InFlight ? t.WorkerId : null, t.Attempt, positions.TryGetValue(t.TaskId, out var p) ? p : null,
                t.AssignedAt, t.AskedAt))
            .ToList();
        return new DispatchView(workers, tasks, _state.CompletingCount, [.. _usage.Values.OrderBy(u => u.Provider, StringComparer.Ordinal)]);
    }

    // Hot-path log lines: source-generated, so a line costs no boxing or parsing.
    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskId} of session {SessionId} assigned to worker {WorkerId} (attempt {Attempt})")]
    private partial void LogAssigned(string taskId, string sessionId, string workerId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} of session {SessionId} refused: {Reason}")]
    private partial void LogRefused(string taskId, string sessionId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Result from worker {WorkerId} for task {TaskId} refused: {Reason}")]
    private partial void LogResultRefused(string workerId, string taskId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Duplicate result for task {TaskId} from worker {WorkerId} dropped")]
    private partial void LogDuplicate(string taskId, string workerId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Result for task {TaskId} from worker {WorkerId} kept: the dispatcher has just restarted and its question is not back yet")]
    private partial void LogKept(string taskId, string workerId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskId} goes to another worker: {Reason}")]
    private partial void LogReturned(string taskId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} of session {SessionId} failed: {Error}")]
    private partial void LogGaveUp(string taskId, string sessionId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} could not be published ({Error}); it waits in the queue")]
    private partial void LogPublishFailed(string taskId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} {Action} ({Language}, {Capacity} slot(s), provider {Provider})")]
    private partial void LogWorkerJoined(string workerId, string action, string language, int capacity, string provider);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Worker {WorkerId} is gone ({Reason}); {Count} task(s) of it go to other workers")]
    private partial void LogWorkerLost(string workerId, string reason, int count);

    private sealed record RecoveryScanned(IReadOnlyList<string> SessionIds);
    private sealed record RecoveryScanFailed(string Error);
    private sealed record RetryScan
    {
        public static readonly RetryScan Instance = new();
    }
    private sealed record WatermarkRead(DateTimeOffset At, long Ordering);
}

/// <summary>What the dispatcher reads from configuration.</summary>
/// <param name="Keys">The masters' shared secret: it makes each assignment's session alias.</param>
public sealed record DispatcherSettings(string GrpcEndpoint, DispatchPolicy Policy, AiSystem.Master.Security.MasterKeys Keys)
{
    public static DispatcherSettings From(MasterOptions master, DispatchOptions dispatch, LimitsOptions limits, AiSystem.Master.Security.MasterKeys keys) =>
        new(master.EffectivePublicGrpcEndpoint, new DispatchPolicy(limits.MaxQueuedTasks, dispatch.TaskTimeout, dispatch.MaxAttempts), keys);
}

public static class DispatcherActorHosting
{
    public static readonly TimeSpan RestartMinBackoff = TimeSpan.FromMilliseconds(200);
    public static readonly TimeSpan RestartMaxBackoff = TimeSpan.FromSeconds(10);

    /// <summary>The dispatcher under a backoff supervisor that starts it again whenever it stops (forever).</summary>
    public static Props Supervised(Props dispatcher) =>
        BackoffSupervisor.Props(Backoff.OnStop(dispatcher, "dispatcher", RestartMinBackoff, RestartMaxBackoff, 0.2, maxNrOfRetries: -1));

    /// <summary>
    /// The dispatcher is a cluster singleton on the master role: with several masters exactly one dispatches, and
    /// when its master dies another takes over from the snapshot and the sessions. Everyone talks to it through the
    /// proxy registered as <see cref="DispatcherActor"/>. A persistent actor stops when its journal fails (a recovery
    /// that cannot reach the database, a snapshot that cannot be loaded); a backoff supervisor between the singleton
    /// manager and the dispatcher starts it again, 0.2 s to 10 s later, so a database that is late or restarting
    /// costs a pause, not the dispatcher.
    /// </summary>
    public static AkkaConfigurationBuilder AddDispatcherSingleton(this AkkaConfigurationBuilder builder) =>
        builder.WithSingleton<DispatcherActor>("dispatcher", (system, registry, resolver) =>
        {
            var settings = DispatcherSettings.From(resolver.GetService<IOptions<MasterOptions>>().Value,
                resolver.GetService<IOptions<DispatchOptions>>().Value, resolver.GetService<IOptions<LimitsOptions>>().Value,
                resolver.GetService<AiSystem.Master.Security.MasterKeys>());
            var publisher = resolver.GetService<ITaskPublisher>();
            var journal = resolver.GetService<IJournalIndex>();
            var log = resolver.GetService<ILogger<DispatcherActor>>();
            var metrics = resolver.GetService<MasterMetrics>();
            var sessions = registry.Get<SessionRegion>();
            return Supervised(Props.Create(() => new DispatcherActor(publisher, sessions, journal, settings, metrics, log)));
        }, new ClusterSingletonOptions { Role = ClusterRoles.Master }, createProxyToo: true);
}
