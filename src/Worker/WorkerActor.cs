using Akka.Actor;
using Akka.Hosting;
using AiSystem.Messages;

namespace AiSystem.Worker;

/// <summary>Where the worker's slot count goes (the MQTT edge turns it into status messages and heartbeats).</summary>
public interface IWorkerStatusReporter
{
    /// <param name="runningTaskIds">The tasks running now (heartbeats name them, so a restarted dispatcher leaves them here).</param>
    void Report(int activeTasks, int capacity, long tasksCompleted, IReadOnlyList<string> runningTaskIds);
}

/// <summary>
/// Runs up to <c>Worker__Capacity</c> tasks at once; more wait here in arrival order. Long work runs outside the
/// actor and comes back as <see cref="TaskFinished"/>. A slot is free as soon as its result is on its way to the
/// master; the acknowledgement (which waits until the master has stored the answer) is awaited beside the slots.
/// </summary>
public sealed partial class WorkerActor : ReceiveActor
{
    private readonly TaskRunner _runner;
    private readonly IWorkerStatusReporter _status;
    private readonly int _capacity;
    private readonly ILogger<WorkerActor> _log;
    private readonly Dictionary<string, TaskMessage> _active = new(StringComparer.Ordinal);
    /// <summary>Each running task's own stop (a <see cref="CancelRun"/> from its master), linked to the worker's.</summary>
    private readonly Dictionary<string, CancellationTokenSource> _stops = new(StringComparer.Ordinal);
    private readonly Queue<TaskMessage> _waiting = new();
    /// <summary>Tasks that may wait for a slot: more than the master ever sends (it counts the slots).</summary>
    private int MaxWaiting => _capacity * 2 + 16;
    private readonly CancellationTokenSource _stopping = new();
    private long _completed;
    private int _delivering;
    private IActorRef? _drainRequester;

    public WorkerActor(TaskRunner runner, IWorkerStatusReporter status, WorkerSettings settings, ILogger<WorkerActor> log)
    {
        _runner = runner;
        _status = status;
        _capacity = settings.Worker.Capacity;
        _log = log;

        Receive<TaskMessage>(task =>
        {
            if (_drainRequester is not null)
            {
                _log.LogInformation("Task {TaskId} not taken: this worker is shutting down (the master gives it to another)", task.TaskId);
                return;
            }
            var key = KeyOf(task);
            if (_active.ContainsKey(key) || _waiting.Any(t => KeyOf(t) == key))
            {
                _log.LogInformation("Task {TaskId} delivered again while already here; ignored", task.TaskId);
                return;
            }
            if (_active.Count < _capacity) Start(task);
            else if (_waiting.Count < MaxWaiting) _waiting.Enqueue(task);
            // The master never sends more than the slots it counts: a flood is not from it. Its tasks, if any, go
            // elsewhere at their deadline.
            else _log.LogWarning("Task {TaskId} dropped: {Waiting} tasks are already waiting for a slot here", task.TaskId, _waiting.Count);
        });

        // The master forgot the task (the user stopped it): the model call is aborted, no result goes out, the slot is free.
        Receive<CancelRun>(m =>
        {
            if (_stops.TryGetValue(m.TaskId, out var stop))
            {
                _log.LogInformation("Task {TaskId} stopped by its master", m.TaskId);
                stop.Cancel();
                return;
            }
            var waiting = _waiting.Count;
            var kept = _waiting.Where(t => t.TaskId != m.TaskId).ToList();
            if (kept.Count == waiting) return; // finished already, or never here
            _waiting.Clear();
            foreach (var t in kept) _waiting.Enqueue(t);
            _log.LogInformation("Task {TaskId} stopped by its master before it started", m.TaskId);
        });

        Receive<TaskFinished>(m =>
        {
            var key = KeyOf(m.Task);
            _active.Remove(key);
            _stops.Remove(key, out var stop);
            var stopped = stop?.IsCancellationRequested == true && !_stopping.IsCancellationRequested;
            _completed++;
            if (m.Error is not null && !_stopping.IsCancellationRequested && !stopped)
                _log.LogError("Task {TaskId} ended without a result: {Error}", m.Task.TaskId, m.Error.GetBaseException().Message);
            if (m.Run is { } run)
            {
                _delivering++;
                var task = m.Task;
                // The delivery still runs under the task's token: it is let go once the result is delivered.
                run.Delivery.PipeTo(Self, success: _ => new ResultDelivered(task, null, stop), failure: e => new ResultDelivered(task, e, stop));
            }
            else
            {
                stop?.Dispose();
            }
            if (_waiting.TryDequeue(out var next)) Start(next);
            else Report();
            ReportDrainedWhenDone();
        });

        Receive<ResultDelivered>(m =>
        {
            _delivering--;
            m.Stop?.Dispose();
            if (m.Error is not null && !_stopping.IsCancellationRequested)
                _log.LogError("Task {TaskId} ended without a delivered result: {Error}", m.Task.TaskId, m.Error.GetBaseException().Message);
            ReportDrainedWhenDone();
        });

        // Shutting down: take nothing new, hand back what waits (the master re-dispatches it when this worker says
        // offline), finish what runs, then say so.
        Receive<StopTakingTasks>(_ =>
        {
            _drainRequester = Sender;
            if (_waiting.Count > 0)
                _log.LogInformation("Shutting down: handing back {Count} waiting task(s)", _waiting.Count);
            _waiting.Clear();
            if (_active.Count == 0 && _delivering == 0) Sender.Tell(WorkerDrained.Instance);
            else _log.LogInformation("Shutting down: finishing {Count} task(s) first", _active.Count + _delivering);
        });
    }

    private void ReportDrainedWhenDone()
    {
        if (_drainRequester is not null && _active.Count == 0 && _delivering == 0) _drainRequester.Tell(WorkerDrained.Instance);
    }

    private void Start(TaskMessage task)
    {
        var key = KeyOf(task);
        _active[key] = task;
        var stop = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        _stops[key] = stop;
        Report();
        LogStarted(task.TaskId, task.SessionId, task.Attempt ?? 1);
        _runner.RunAsync(task, stop.Token).PipeTo(Self,
            success: run => new TaskFinished(task, run, null),
            failure: e => new TaskFinished(task, null, e));
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Task {TaskId} of session {SessionId} started (attempt {Attempt})")]
    private partial void LogStarted(string? taskId, string sessionId, int attempt);

    private void Report() => _status.Report(_active.Count, _capacity, _completed, [.. _active.Values.Select(t => t.TaskId).OfType<string>()]);

    /// <summary>Old masters send no task_id; session + timestamp identify the task then.</summary>
    private static string KeyOf(TaskMessage t) => t.TaskId ?? $"{t.SessionId}@{t.Timestamp}";

    protected override void PostStop()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private sealed record TaskFinished(TaskMessage Task, TaskRun? Run, Exception? Error);
    private sealed record ResultDelivered(TaskMessage Task, Exception? Error, CancellationTokenSource? Stop);
}

/// <summary>From the task's master (MQTT <c>cancel</c>): stop this task, send no result.</summary>
public sealed record CancelRun(string TaskId);

/// <summary>Asks the worker actor to drain; it answers <see cref="WorkerDrained"/> when no task runs.</summary>
public sealed record StopTakingTasks
{
    public static readonly StopTakingTasks Instance = new();
}

public sealed record WorkerDrained
{
    public static readonly WorkerDrained Instance = new();
}

public static class WorkerActorHosting
{
    public static AkkaConfigurationBuilder AddWorkerActor(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry, resolver) =>
            registry.Register<WorkerActor>(system.ActorOf(resolver.Props<WorkerActor>(), "worker")));
}
