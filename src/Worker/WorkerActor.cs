using Akka.Actor;
using Akka.Hosting;
using AiSystem.Messages;

namespace AiSystem.Worker;

/// <summary>Where the worker's slot count goes (the MQTT edge turns it into status messages and heartbeats).</summary>
public interface IWorkerStatusReporter
{
    void Report(int activeTasks, int capacity, long tasksCompleted);
}

/// <summary>
/// Runs up to <c>Worker__Capacity</c> tasks at once; more wait here in arrival order. Long work runs outside the
/// actor and comes back as <see cref="TaskFinished"/>.
/// </summary>
public sealed class WorkerActor : ReceiveActor
{
    private readonly TaskRunner _runner;
    private readonly IWorkerStatusReporter _status;
    private readonly int _capacity;
    private readonly ILogger<WorkerActor> _log;
    private readonly Dictionary<string, TaskMessage> _active = new(StringComparer.Ordinal);
    private readonly Queue<TaskMessage> _waiting = new();
    private readonly CancellationTokenSource _stopping = new();
    private long _completed;

    public WorkerActor(TaskRunner runner, IWorkerStatusReporter status, WorkerSettings settings, ILogger<WorkerActor> log)
    {
        _runner = runner;
        _status = status;
        _capacity = settings.Worker.Capacity;
        _log = log;

        Receive<TaskMessage>(task =>
        {
            var key = KeyOf(task);
            if (_active.ContainsKey(key) || _waiting.Any(t => KeyOf(t) == key))
            {
                _log.LogInformation("Task {TaskId} delivered again while already here; ignored", task.TaskId);
                return;
            }
            if (_active.Count < _capacity) Start(task);
            else _waiting.Enqueue(task);
        });

        Receive<TaskFinished>(m =>
        {
            _active.Remove(KeyOf(m.Task));
            _completed++;
            if (m.Error is not null && !_stopping.IsCancellationRequested)
                _log.LogError("Task {TaskId} ended without a delivered result: {Error}", m.Task.TaskId, m.Error.GetBaseException().Message);
            if (_waiting.TryDequeue(out var next)) Start(next);
            else Report();
        });
    }

    private void Start(TaskMessage task)
    {
        _active[KeyOf(task)] = task;
        Report();
        _log.LogInformation("Task {TaskId} of session {SessionId} started (attempt {Attempt})", task.TaskId, task.SessionId, task.Attempt ?? 1);
        _runner.RunAsync(task, _stopping.Token).PipeTo(Self,
            success: _ => new TaskFinished(task, null),
            failure: e => new TaskFinished(task, e));
    }

    private void Report() => _status.Report(_active.Count, _capacity, _completed);

    /// <summary>Old masters send no task_id; session + timestamp identify the task then.</summary>
    private static string KeyOf(TaskMessage t) => t.TaskId ?? $"{t.SessionId}@{t.Timestamp}";

    protected override void PostStop()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private sealed record TaskFinished(TaskMessage Task, Exception? Error);
}

public static class WorkerActorHosting
{
    public static AkkaConfigurationBuilder AddWorkerActor(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry, resolver) =>
            registry.Register<WorkerActor>(system.ActorOf(resolver.Props<WorkerActor>(), "worker")));
}
