using Akka.Actor;
using Akka.Hosting;
using Akka.Persistence;
using AiSystem.Master.Configuration;
using AiSystem.Master.Dashboard;
using AiSystem.Master.Observability;
using AiSystem.Master.Sessions;
using AiSystem.Messages;
using AiSystem.Messages.Grpc;
using Akka.Cluster.Hosting;
using AiSystem.Messages.Cluster;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiSystem.Master.Dispatch;

/// <summary>
/// The single owner of worker state and of the task queue. Decisions are made by <see cref="DispatchState"/>;
/// this actor feeds it messages and carries out the effects (MQTT publish, session notices). What it has accepted,
/// assigned and finished is journaled (<see cref="TaskLedger"/>), so a restarted master queues, owns or re-dispatches
/// every open task again, and delivers every outcome its session has not stored yet.
/// </summary>
public sealed class DispatcherActor : ReceivePersistentActor, IWithTimers
{
    private const int SnapshotEvery = 500;
    private readonly TaskLedger _ledger = new();

    public override string PersistenceId => "dispatcher";

    private readonly DispatchState _state;
    private readonly ITaskPublisher _publisher;
    private readonly IActorRef _sessions;
    private readonly ILogger<DispatcherActor> _log;
    private readonly string _grpcEndpoint;
    private readonly MasterMetrics _metrics;
    private readonly AnswerSeries _answers = new();

    public ITimerScheduler Timers { get; set; } = null!;

    public DispatcherActor(ITaskPublisher publisher, IActorRef sessions, DispatcherSettings settings, MasterMetrics metrics,
        ILogger<DispatcherActor> log)
    {
        _metrics = metrics;
        _publisher = publisher;
        _sessions = sessions;
        _log = log;
        _grpcEndpoint = settings.GrpcEndpoint;
        _state = new DispatchState(settings.Policy, () => DateTimeOffset.UtcNow);

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is DispatcherSnapshot snapshot) _ledger.Restore(snapshot);
        });
        Recover<IDispatchEvent>(_ledger.Apply);
        Recover<RecoveryCompleted>(_ =>
        {
            _state.Restore(_ledger.Open, _ledger.Finished);
            if (_ledger.Open.Count + _ledger.Outbox.Count > 0)
                _log.LogInformation("Dispatcher recovered {Open} open task(s) and {Outbox} outcome(s) to deliver",
                    _ledger.Open.Count, _ledger.Outbox.Count);
            foreach (var outcome in _ledger.Outbox) Deliver(outcome);
            UpdateGauges();
        });

        Command<SubmitTask>(m =>
        {
            if (_state.Refusal() is { } refusal)
            {
                _log.LogWarning("Task {TaskId} of session {SessionId} refused: {Reason}", m.Task.TaskId, m.Task.SessionId, refusal);
                Sender.Tell(new SubmitReply(SubmitStatus.Rejected, null, refusal));
                return;
            }
            var t = m.Task;
            // Accepted means journaled: the task joins the queue and the reply goes out only once the write is done.
            // The write does not hold other commands back, so the journal takes many questions in one batch.
            Record(new TaskAccepted(t.TaskId, t.SessionId, t.Query, t.Timestamp), then: () =>
            {
                var decision = _state.Submit(m.Task);
                Sender.Tell(new SubmitReply(decision.Status, decision.Position, decision.Error));
                _metrics.Received();
                Apply(decision.Effects);
            });
        });

        Command<WorkerRegistered>(m =>
        {
            var r = m.Registration;
            var known = _state.Workers.Find(r.WorkerId) is not null;
            var effects = _state.Register(r.WorkerId, r.Capacity, w =>
            {
                w.Language = r.Language ?? "";
                w.Host = r.Host ?? "";
                w.Version = r.Version ?? "";
                w.Provider = r.Provider ?? "";
                w.ClusterAddress = string.IsNullOrEmpty(r.ClusterAddress) ? null : r.ClusterAddress;
                w.HeartbeatInterval = r.HeartbeatIntervalMs is > 0 ? TimeSpan.FromMilliseconds(r.HeartbeatIntervalMs.Value) : null;
            });
            _log.LogInformation("Worker {WorkerId} {Action} ({Language}, {Capacity} slot(s), provider {Provider})",
                r.WorkerId, known ? "registered again" : "registered", r.Language ?? "unknown language", r.Capacity ?? 1, r.Provider ?? "unknown");
            Apply(effects);
        });

        Command<WorkerStatusReported>(m =>
        {
            var s = m.Status;
            if (s.Status == WorkerStatuses.Offline)
            {
                Apply(_state.RemoveWorker(s.WorkerId));
            }
            else
            {
                Apply(_state.Touch(s.WorkerId, s.Status, s.Capacity));
            }
        });

        Command<WorkerHeartbeatReceived>(m =>
        {
            var h = m.Heartbeat;
            Apply(_state.Touch(h.WorkerId, h.Status, h.Capacity,
                h.HeartbeatIntervalMs is > 0 ? TimeSpan.FromMilliseconds(h.HeartbeatIntervalMs.Value) : null));
        });

        Command<BrokerConnectionChanged>(m =>
        {
            _log.LogInformation("Broker connection {State}", m.Connected ? "up: dispatching resumes" : "down: dispatching paused");
            Apply(_state.SetBrokerConnected(m.Connected));
        });

        Command<DispatchTick>(_ => Apply(_state.Tick()));

        Command<ClusterNodeRemoved>(m => Apply(_state.RemoveWorkersAt(m.Address)));

        Command<ResultReceived>(m =>
        {
            var decision = _state.Complete(m.Result);
            var ack = new ResultAck { Success = decision.Status != ResultStatus.Refused, Message = decision.Message };
            if (decision.Status == ResultStatus.Refused)
                _log.LogWarning("Result from worker {WorkerId} for task {TaskId} refused: {Reason}",
                    m.Result.WorkerId, m.Result.TaskId, decision.Message);
            else if (decision.Status == ResultStatus.Duplicate)
                _log.LogInformation("Duplicate result for task {TaskId} from worker {WorkerId} dropped", m.Result.TaskId, m.Result.WorkerId);
            if (decision.Status != ResultStatus.Accepted)
            {
                Sender.Tell(ack);
                return;
            }
            // The worker hears "accepted" only once the outcome is journaled: from then on it cannot be lost.
            var replyTo = Sender;
            Apply(decision.Effects, () => replyTo.Tell(ack));
        });

        // The per-chunk path: an in-memory check and a tell, no journal, no info logs.
        Command<TaskProgress>(m =>
        {
            if (_state.StreamingTask(m.TaskId, m.WorkerId, m.Attempt) is { } task)
                _sessions.Tell(new SessionEnvelope(task.SessionId, new TaskProgressNotice(task.TaskId, task.Attempt, m.Offset, m.Text)));
        });

        Command<OutcomeStored>(m =>
        {
            if (_ledger.AwaitsDelivery(m.TaskId))
                Record(new OutcomeDelivered(m.TaskId));
        });

        Command<GetDispatchSnapshot>(_ => Sender.Tell(Snapshot()));
        Command<GetAnswerSeries>(_ => Sender.Tell(_answers.View(DateTimeOffset.UtcNow)));

        Command<TaskPublishFailed>(m =>
        {
            _log.LogWarning("Task {TaskId} could not be published to worker {WorkerId} ({Error}); it waits in the queue",
                m.Task.TaskId, m.Task.WorkerId, m.Error);
            Apply(_state.PublishFailed(m.Task.TaskId, m.Task.Attempt));
        });
    }

    protected override void PreStart()
    {
        base.PreStart();
        Timers.StartPeriodicTimer("tick", DispatchTick.Instance, DispatchPolicy.TickInterval);
    }

    /// <summary>
    /// Writes an event to the journal, then to the ledger, then runs <paramref name="then"/>: whatever others may see
    /// of it waits for the write. Writes never hold other commands back (PersistAsync), so the journal takes the
    /// events of many questions in one batch; they are written, and their callbacks run, in the order recorded.
    /// </summary>
    private void Record(IDispatchEvent e, Action? then = null) => PersistAsync(e, written =>
    {
        _ledger.Apply(written);
        if (LastSequenceNr % SnapshotEvery == 0) SaveSnapshot(_ledger.Snapshot());
        then?.Invoke();
    });

    /// <param name="afterOutcomes">Runs once every outcome among the effects is journaled (e.g. acking the worker).</param>
    private void Apply(IReadOnlyList<DispatchEffect> effects, Action? afterOutcomes = null)
    {
        ApplyEffects(effects);
        var outcomes = effects.Select(OutcomeOf).OfType<TaskOutcome>().ToList();
        if (outcomes.Count == 0) afterOutcomes?.Invoke();
        for (var i = 0; i < outcomes.Count; i++)
        {
            var outcome = outcomes[i];
            var last = i == outcomes.Count - 1;
            // The outcome reaches its session (and the worker its ack) once journaled; meanwhile the dispatcher goes
            // on (a duplicate of this result is already answered from memory: the task is finished there).
            Record(new TaskFinished(outcome), then: () =>
            {
                Deliver(outcome);
                if (last) afterOutcomes?.Invoke();
            });
        }
        UpdateGauges();
    }

    private void UpdateGauges()
    {
        var busy = _state.Workers.All.Count(w => w.ActiveTasks.Count > 0);
        _metrics.SetState(_state.Queue.Count, _state.InFlightCount, _state.Workers.Count - busy, busy);
    }

    private static TaskOutcome? OutcomeOf(DispatchEffect effect) => effect switch
    {
        CompletedEffect(var task, var r) => new TaskOutcome(task.TaskId, task.SessionId, task.Query,
            string.IsNullOrEmpty(r.Error) ? r.AiResponse : null, string.IsNullOrEmpty(r.Error) ? null : r.Error, !r.PermanentError,
            r.WorkerId, r.Provider, r.ProcessingTimeMs, r.CompletionTimestamp != 0 ? r.CompletionTimestamp : EpochMs.Now()),
        FailedEffect(var task, var error) => new TaskOutcome(task.TaskId, task.SessionId, task.Query, null, error, true,
            task.WorkerId ?? "", "", 0, EpochMs.Now()),
        _ => null,
    };

    /// <summary>The session stores the outcome, pushes it to its browsers and confirms (<see cref="OutcomeStored"/>).</summary>
    private void Deliver(TaskOutcome outcome) =>
        _sessions.Tell(new SessionEnvelope(outcome.SessionId, new TaskOutcomeNotice(outcome)), Self);

    private void ApplyEffects(IReadOnlyList<DispatchEffect> effects)
    {
        foreach (var effect in effects)
        {
            switch (effect)
            {
                case AssignEffect(var task):
                    Record(new TaskAssignedTo(task.TaskId, task.WorkerId!, task.Attempt, task.AssignedAt!.Value, task.Deadline!.Value));
                    Publish(task);
                    _sessions.Tell(new SessionEnvelope(task.SessionId, new TaskAssignedNotice(task.TaskId, task.WorkerId!, task.Attempt)));
                    break;
                case QueuedEffect(var task, var position):
                    _sessions.Tell(new SessionEnvelope(task.SessionId, new TaskQueuedNotice(task.TaskId, position)));
                    break;
                case CompletedEffect(var task, var result):
                    var now = DateTimeOffset.UtcNow;
                    var latency = now - DateTimeOffset.FromUnixTimeMilliseconds(task.Timestamp);
                    if (string.IsNullOrEmpty(result.Error))
                        _metrics.Answered(latency, TimeSpan.FromMilliseconds(result.ProcessingTimeMs));
                    else
                        _metrics.Failed();
                    _answers.Record(now, latency, answered: string.IsNullOrEmpty(result.Error));
                    break;
                case FailedEffect(var task, var error):
                    _metrics.Failed();
                    _answers.Record(DateTimeOffset.UtcNow, TimeSpan.Zero, answered: false);
                    _log.LogWarning("Task {TaskId} of session {SessionId} failed: {Error}", task.TaskId, task.SessionId, error);
                    break;
                case RedispatchEffect(var task, var reason):
                    _metrics.Redispatched();
                    _log.LogInformation("Task {TaskId} goes to another worker: {Reason}", task.TaskId, reason);
                    break;
                case WorkerLostEffect(var workerId, var reason, var returned):
                    _log.LogWarning("Worker {WorkerId} is gone ({Reason}); {Count} task(s) of it go to other workers", workerId, reason, returned);
                    break;
            }
        }
    }

    private void Publish(DispatchTask task)
    {
        var message = new TaskMessage
        {
            WorkerId = task.WorkerId!,
            SessionId = task.SessionId,
            Query = task.Query,
            ApiKey = task.ApiKey,
            GrpcEndpoint = _grpcEndpoint,
            Timestamp = task.Timestamp,
            TaskId = task.TaskId,
            Attempt = task.Attempt,
            Deadline = task.Deadline?.ToUnixTimeMilliseconds(),
        };
        _log.LogInformation("Task {TaskId} of session {SessionId} assigned to worker {WorkerId} (attempt {Attempt})",
            task.TaskId, task.SessionId, task.WorkerId, task.Attempt);
        var self = Self;
        _publisher.PublishTaskAsync(message).ContinueWith(
            t => self.Tell(new TaskPublishFailed(task, t.Exception!.GetBaseException().Message)),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    private DispatchSnapshot Snapshot()
    {
        var workers = _state.Workers.All
            .OrderBy(w => w.Sequence)
            .Select(w => new WorkerView(w.Id, w.Language, w.Host, w.Status, w.ReportedStatus, w.Capacity, w.ActiveTasks.Count,
                w.LastSeen, w.Completed, w.Provider, w.Version, w.ClusterAddress))
            .ToList();
        var tasks = _state.Queue.Positions()
            .Select(p => new TaskView(p.Task.TaskId, p.Task.SessionId, "queued", null, p.Task.Attempt, p.Position, null, p.Task.Timestamp))
            .Concat(_state.InFlight.Select(t => new TaskView(t.TaskId, t.SessionId, "in-flight", t.WorkerId, t.Attempt, null, t.AssignedAt, t.Timestamp)))
            .ToList();
        return new DispatchSnapshot(workers, tasks, _ledger.Outbox.Count);
    }
}

/// <summary>What the dispatcher reads from configuration.</summary>
public sealed record DispatcherSettings(string GrpcEndpoint, DispatchPolicy Policy)
{
    public static DispatcherSettings From(MasterOptions master, DispatchOptions dispatch, LimitsOptions limits) =>
        new(master.EffectivePublicGrpcEndpoint, new DispatchPolicy(limits.MaxQueuedTasks, dispatch.TaskTimeout, dispatch.MaxAttempts));
}

public static class DispatcherActorHosting
{
    /// <summary>
    /// The dispatcher is a cluster singleton on the master role: with several masters exactly one dispatches, and
    /// when its master dies another takes over and recovers from the journal. Everyone talks to it through the
    /// proxy registered as <see cref="DispatcherActor"/>.
    /// </summary>
    public static AkkaConfigurationBuilder AddDispatcherSingleton(this AkkaConfigurationBuilder builder) =>
        builder.WithSingleton<DispatcherActor>("dispatcher", (system, registry, resolver) =>
        {
            var settings = DispatcherSettings.From(resolver.GetService<IOptions<MasterOptions>>().Value,
                resolver.GetService<IOptions<DispatchOptions>>().Value, resolver.GetService<IOptions<LimitsOptions>>().Value);
            var publisher = resolver.GetService<ITaskPublisher>();
            var log = resolver.GetService<ILogger<DispatcherActor>>();
            var metrics = resolver.GetService<MasterMetrics>();
            var sessions = registry.Get<SessionRegion>();
            return Props.Create(() => new DispatcherActor(publisher, sessions, settings, metrics, log));
        }, new ClusterSingletonOptions { Role = ClusterRoles.Master }, createProxyToo: true);
}
