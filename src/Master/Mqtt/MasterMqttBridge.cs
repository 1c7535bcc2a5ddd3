using System.Buffers;
using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Dispatch;
using AiSystem.Messages;
using AiSystem.Messages.Mqtt;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;

namespace AiSystem.Master.Mqtt;

/// <summary>
/// The master's MQTT edge: worker announcements in (parsed, validated, handed to the dispatcher), tasks out. With
/// the embedded broker it works in process (no socket); with an external broker through its own client connection.
/// A payload that is not a valid message (a malformed <c>worker_id</c> included) or over <c>Mqtt__MaxMessageBytes</c> is
/// dropped with one warning; it never reaches an actor. Whether the sender may speak for that worker id is the broker's
/// business: the embedded one checks it (<see cref="BrokerAccessPolicy"/>); give Mosquitto an ACL.
/// </summary>
public sealed class MasterMqttBridge : IHostedService, ITaskPublisher, IAsyncDisposable
{
    private readonly Topics _topics;
    private readonly IRequiredActor<DispatcherActor> _dispatcher;
    private readonly MqttLogSink _logSink;
    private readonly ILogger<MasterMqttBridge> _log;
    private readonly EmbeddedBroker? _embedded;
    private readonly MqttConnection? _connection;
    private readonly IMqttPublisher _publisher;
    private readonly int _maxMessageBytes;

    public MasterMqttBridge(IOptions<MqttOptions> options, IRequiredActor<DispatcherActor> dispatcher, MqttLogSink logSink,
        IServiceProvider services, ILogger<MasterMqttBridge> log)
    {
        _topics = options.Value.Topics;
        _maxMessageBytes = options.Value.MaxMessageBytes;
        _dispatcher = dispatcher;
        _logSink = logSink;
        _log = log;
        _embedded = services.GetService<EmbeddedBroker>();
        if (_embedded is not null)
        {
            foreach (var topic in new[] { _topics.Register, _topics.Status, _topics.Heartbeat })
                _embedded.Observe(topic, (t, payload) => OnMessage(t, payload));
            _publisher = _embedded;
            return;
        }
        _connection = new MqttConnection(options.Value,
            new MqttConnectionSettings(
                ClientId: $"master-{Guid.NewGuid():N}",
                Subscriptions:
                [
                    (_topics.Register, MqttQualityOfServiceLevel.AtLeastOnce),
                    (_topics.Status, MqttQualityOfServiceLevel.AtLeastOnce),
                    (_topics.Heartbeat, MqttQualityOfServiceLevel.AtMostOnce),
                ]),
            log)
        {
            MessageReceived = (topic, payload) =>
            {
                OnMessage(topic, payload);
                return Task.CompletedTask;
            },
            Connected = _ =>
            {
                _dispatcher.ActorRef.Tell(new SetBrokerConnection(true));
                return Task.CompletedTask;
            },
            Disconnected = () => _dispatcher.ActorRef.Tell(new SetBrokerConnection(false)),
        };
        _publisher = _connection;
    }

    public bool IsConnected => _publisher.IsConnected;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _logSink.Attach(_publisher, _topics.Logs);
        if (_connection is null) return; // the embedded broker is started before us (hosted services start in order)
        _connection.Start();
        // Start-up waits (bounded) for the broker so the first tasks do not race the connection.
        try { await _connection.FirstConnect.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken); }
        catch (TimeoutException) { _log.LogWarning("MQTT broker not reachable yet; the master keeps trying in the background"); }
    }

    public Task StopAsync(CancellationToken cancellationToken) => _connection?.StopAsync() ?? Task.CompletedTask;

    public Task PublishTaskAsync(TaskMessage task, CancellationToken cancellationToken = default) =>
        _publisher.PublishAsync(_topics.TasksFor(task.WorkerId), WireJson.Serialize(task), MqttQualityOfServiceLevel.AtLeastOnce,
            cancellationToken: cancellationToken);

    public Task PublishCancelAsync(CancelMessage cancel, CancellationToken cancellationToken = default) =>
        _publisher.PublishAsync(_topics.CancelsFor(cancel.WorkerId), WireJson.Serialize(cancel), MqttQualityOfServiceLevel.AtLeastOnce,
            cancellationToken: cancellationToken);

    private void OnMessage(string topic, ReadOnlySequence<byte> payload)
    {
        object? message = null;
        string? error = null;
        if (payload.Length > _maxMessageBytes)
        {
            error = $"over Mqtt__MaxMessageBytes ({_maxMessageBytes})";
        }
        else if (topic == _topics.Register)
        {
            if (WireJson.TryParse(payload, out WorkerRegistration? r, out error)) message = new RegisterWorker(r);
        }
        else if (topic == _topics.Status)
        {
            if (WireJson.TryParse(payload, out WorkerStatusUpdate? s, out error)) message = new ReportWorkerStatus(s);
        }
        else if (topic == _topics.Heartbeat)
        {
            if (WireJson.TryParse(payload, out WorkerHeartbeat? h, out error)) message = new ReportWorkerHeartbeat(h);
        }
        else
        {
            return;
        }

        if (message is null)
            _log.LogWarning("Dropped a malformed message on {Topic} ({Bytes} bytes): {Error}", topic, payload.Length, error);
        else
            _dispatcher.ActorRef.Tell(message);
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null) await _connection.DisposeAsync();
    }
}
