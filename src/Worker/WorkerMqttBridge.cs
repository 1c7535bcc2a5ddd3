using System.Buffers;
using Akka.Actor;
using Akka.Hosting;
using AiSystem.Messages;
using AiSystem.Messages.Mqtt;
using MQTTnet.Protocol;

namespace AiSystem.Worker;

/// <summary>
/// The worker's MQTT edge: registers on every (re)connect with a last will of <c>offline</c>, takes tasks from its
/// own topic, publishes status changes and heartbeats. Malformed tasks are dropped with one warning.
/// </summary>
public sealed class WorkerMqttBridge : BackgroundService, IWorkerStatusReporter
{
    private readonly WorkerSettings _settings;
    private readonly string _workerId;
    private readonly Topics _topics;
    private readonly MqttConnection _connection;
    private readonly IRequiredActor<WorkerActor> _worker;
    private readonly MqttLogSink _logSink;
    private readonly ILogger<WorkerMqttBridge> _log;
    /// <summary>Status changes within this window go out as one message (the latest): a busy slot flips many times a second.</summary>
    private static readonly TimeSpan StatusCoalescing = TimeSpan.FromMilliseconds(250);
    private readonly object _gate = new();
    private int _active;
    private long _completed;
    private IReadOnlyList<string> _running = [];
    private string _lastStatus = WorkerStatuses.Idle;
    private (string Status, int Active) _published = (WorkerStatuses.Idle, 0);
    private bool _statusDue;
    private bool _draining;

    private readonly IServiceProvider _services;
    private readonly TaskOrigin _origin;
    private readonly string _cancelTopic;

    public WorkerMqttBridge(WorkerSettings settings, IRequiredActor<WorkerActor> worker, MqttLogSink logSink,
        IServiceProvider services, TaskOrigin origin, ILogger<WorkerMqttBridge> log)
    {
        _services = services;
        _origin = origin;
        _settings = settings;
        _workerId = settings.Worker.EffectiveId;
        _topics = settings.Mqtt.Topics;
        _cancelTopic = _topics.CancelsFor(_workerId);
        _worker = worker;
        _logSink = logSink;
        _log = log;
        _connection = new MqttConnection(settings.Mqtt,
            new MqttConnectionSettings(
                ClientId: _workerId,
                Subscriptions: [(_topics.TasksFor(_workerId), MqttQualityOfServiceLevel.AtLeastOnce),
                    (_topics.CancelsFor(_workerId), MqttQualityOfServiceLevel.AtLeastOnce)],
                CleanSession: false, // a briefly disconnected worker still gets the tasks sent meanwhile
                WillTopic: _topics.Status,
                WillPayload: () => WireJson.Serialize(Status(WorkerStatuses.Offline, 0))),
            log)
        {
            MessageReceived = OnMessageAsync,
            Connected = AnnounceAsync,
        };
    }

    public bool IsConnected => _connection.IsConnected;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _connection.Start();
        _logSink.Attach(_connection, _topics.Logs);
        using var timer = new PeriodicTimer(_settings.Worker.HeartbeatInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (!_connection.IsConnected) continue;
                WorkerHeartbeat beat;
                lock (_gate)
                    beat = new WorkerHeartbeat
                    {
                        WorkerId = _workerId, Status = _lastStatus, Timestamp = EpochMs.Now(),
                        ActiveTasks = _active, Capacity = _settings.Worker.Capacity, TasksCompleted = _completed,
                        HeartbeatIntervalMs = (long)_settings.Worker.HeartbeatInterval.TotalMilliseconds,
                        TaskIds = _running.Count > 0 ? _running : null,
                    };
                await TryPublishAsync(_topics.Heartbeat, WireJson.Serialize(beat), MqttQualityOfServiceLevel.AtMostOnce);
            }
        }
        catch (OperationCanceledException) { }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Said first: the master then gives this worker nothing more. A task sent to it anyway would not be taken, and
        // would come back to the master only with this worker's offline, one of its attempts spent; several workers
        // leaving at once (a scale-down) could spend them all.
        Volatile.Write(ref _draining, true);
        int running;
        lock (_gate) running = _active;
        await TryPublishAsync(_topics.Status, WireJson.Serialize(Status(running > 0 ? WorkerStatuses.Busy : WorkerStatuses.Idle, running)),
            MqttQualityOfServiceLevel.AtLeastOnce);
        // Heartbeats go on while running tasks finish, so the master does not give them away meanwhile.
        // (Not when the actor system is already gone, e.g. after this node left the cluster: nothing runs then.)
        try
        {
            if (ActorSystem.WhenTerminated.IsCompleted) throw new OperationCanceledException();
            await _worker.ActorRef.Ask<WorkerDrained>(StopTakingTasks.Instance, _settings.Worker.ShutdownTimeout, cancellationToken);
        }
        catch (Exception e) when (e is AskTimeoutException or OperationCanceledException)
        {
            _log.LogWarning("Worker {WorkerId} leaves with tasks unfinished after {Timeout}; the master gives them to other workers",
                _workerId, _settings.Worker.ShutdownTimeout);
        }
        await base.StopAsync(cancellationToken);
        // A clean offline, then a clean disconnect: the broker does not fire the last will.
        await _connection.StopAsync(() => _connection.PublishAsync(_topics.Status,
            WireJson.Serialize(Status(WorkerStatuses.Offline, 0)), MqttQualityOfServiceLevel.AtLeastOnce));
        _log.LogInformation("Worker {WorkerId} left", _workerId);
    }

    public void Report(int activeTasks, int capacity, long tasksCompleted, IReadOnlyList<string> runningTaskIds)
    {
        bool schedule;
        lock (_gate)
        {
            _active = activeTasks;
            _completed = tasksCompleted;
            _running = runningTaskIds;
            _lastStatus = activeTasks >= capacity ? WorkerStatuses.Busy : WorkerStatuses.Idle;
            schedule = !_statusDue;
            _statusDue = true;
        }
        if (schedule) _ = PublishStatusSoonAsync();
    }

    /// <summary>One status message for all changes within <see cref="StatusCoalescing"/>, and none when nothing changed in the end.</summary>
    private async Task PublishStatusSoonAsync()
    {
        await Task.Delay(StatusCoalescing);
        (string Status, int Active) now;
        lock (_gate)
        {
            _statusDue = false;
            now = (_lastStatus, _active);
            if (now == _published) return;
            _published = now;
        }
        await TryPublishAsync(_topics.Status, WireJson.Serialize(Status(now.Status, now.Active)), MqttQualityOfServiceLevel.AtLeastOnce);
    }

    private async Task AnnounceAsync(CancellationToken ct)
    {
        var registration = new WorkerRegistration
        {
            WorkerId = _workerId,
            Language = _settings.Worker.Language,
            Status = WorkerStatuses.Idle,
            Timestamp = EpochMs.Now(),
            Capacity = _settings.Worker.Capacity,
            HeartbeatIntervalMs = (long)_settings.Worker.HeartbeatInterval.TotalMilliseconds,
            Version = typeof(WorkerMqttBridge).Assembly.GetName().Version?.ToString(3),
            Host = Environment.MachineName,
            ClusterAddress = ClusterAddress(),
            Provider = _settings.Llm.Provider == "auto"
                ? (string.IsNullOrEmpty(_settings.Gemini.ApiKey) ? "auto (simulated without a key)" : "gemini")
                : _settings.Llm.Provider,
            FetchesKeys = true, // a user's key is fetched from the master (FetchKey), never read off the broker
        };
        await _connection.PublishAsync(_topics.Register, WireJson.Serialize(registration), MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken: ct);
        int active;
        string status;
        lock (_gate)
        {
            (active, status) = (_active, _lastStatus);
            _published = (status, active);
        }
        await _connection.PublishAsync(_topics.Status, WireJson.Serialize(Status(status, active)), MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken: ct);
        _log.LogInformation("Worker {WorkerId} registered ({Capacity} slot(s))", _workerId, _settings.Worker.Capacity);
    }

    private ActorSystem ActorSystem => _services.GetRequiredService<ActorSystem>();

    /// <summary>This worker's address in the cluster, e.g. <c>akka.tcp://ai-system@host:40123</c>.</summary>
    private string? ClusterAddress()
    {
        try { return Akka.Cluster.Cluster.Get(ActorSystem).SelfAddress.ToString(); }
        catch (Exception) { return null; }
    }

    private Task OnMessageAsync(string topic, ReadOnlySequence<byte> payload)
    {
        if (topic == _cancelTopic)
        {
            if (!WireJson.TryParse(payload, out CancelMessage? cancel, out var invalid))
                _log.LogWarning("Dropped a malformed stop on {Topic} ({Bytes} bytes): {Error}", topic, payload.Length, invalid);
            else if (cancel.WorkerId == _workerId)
                _worker.ActorRef.Tell(new CancelRun(cancel.TaskId));
            return Task.CompletedTask;
        }
        if (!WireJson.TryParse(payload, out TaskMessage? task, out var error))
        {
            _log.LogWarning("Dropped a malformed task on {Topic} ({Bytes} bytes): {Error}", topic, payload.Length, error);
            return Task.CompletedTask;
        }
        if (task.WorkerId != _workerId)
        {
            _log.LogWarning("Dropped task {TaskId} addressed to worker {Other}, not to this worker", task.TaskId, task.WorkerId);
            return Task.CompletedTask;
        }
        if (_origin.Refusal(task.GrpcEndpoint) is { } refusal)
        {
            _log.LogWarning("Dropped task {TaskId}: {Reason}", task.TaskId, refusal);
            return Task.CompletedTask;
        }
        _worker.ActorRef.Tell(task);
        return Task.CompletedTask;
    }

    private WorkerStatusUpdate Status(string status, int active) => new()
    {
        WorkerId = _workerId, Status = status, Timestamp = EpochMs.Now(), ActiveTasks = active, Capacity = _settings.Worker.Capacity,
        Draining = Volatile.Read(ref _draining) ? true : null,
    };

    private async Task TryPublishAsync(string topic, byte[] payload, MqttQualityOfServiceLevel qos)
    {
        if (!_connection.IsConnected) return; // re-announced on reconnect
        try { await _connection.PublishAsync(topic, payload, qos); }
        catch (Exception e) { _log.LogDebug("Publish to {Topic} failed: {Error}", topic, e.Message); }
    }

    public override void Dispose()
    {
        base.Dispose();
        _connection.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
