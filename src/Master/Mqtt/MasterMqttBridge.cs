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
/// The master's MQTT edge: worker announcements in (parsed, validated, handed to the dispatcher), tasks out.
/// A payload that is not a valid message is dropped with one warning; it never reaches an actor.
/// </summary>
public sealed class MasterMqttBridge : IHostedService, ITaskPublisher, IAsyncDisposable
{
    private readonly MqttConnection _connection;
    private readonly Topics _topics;
    private readonly IRequiredActor<DispatcherActor> _dispatcher;
    private readonly MqttLogSink _logSink;
    private readonly ILogger<MasterMqttBridge> _log;

    public MasterMqttBridge(IOptions<MqttOptions> options, IRequiredActor<DispatcherActor> dispatcher, MqttLogSink logSink,
        ILogger<MasterMqttBridge> log)
    {
        _topics = options.Value.Topics;
        _dispatcher = dispatcher;
        _logSink = logSink;
        _log = log;
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
            MessageReceived = OnMessageAsync,
            Connected = _ =>
            {
                _dispatcher.ActorRef.Tell(new BrokerConnectionChanged(true));
                return Task.CompletedTask;
            },
            Disconnected = () => _dispatcher.ActorRef.Tell(new BrokerConnectionChanged(false)),
        };
    }

    public bool IsConnected => _connection.IsConnected;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _connection.Start();
        _logSink.Attach(_connection, _topics.Logs);
        // Start-up waits (bounded) for the broker so the first tasks do not race the connection.
        try { await _connection.FirstConnect.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken); }
        catch (TimeoutException) { _log.LogWarning("MQTT broker not reachable yet; the master keeps trying in the background"); }
    }

    public Task StopAsync(CancellationToken cancellationToken) => _connection.StopAsync();

    public Task PublishTaskAsync(TaskMessage task, CancellationToken cancellationToken = default) =>
        _connection.PublishAsync(_topics.TasksFor(task.WorkerId), WireJson.Serialize(task), MqttQualityOfServiceLevel.AtLeastOnce,
            cancellationToken: cancellationToken);

    private Task OnMessageAsync(string topic, ReadOnlySequence<byte> payload)
    {
        object? message = null;
        string? error = null;
        if (topic == _topics.Register)
        {
            if (WireJson.TryParse(payload, out WorkerRegistration? r, out error)) message = new WorkerRegistered(r);
        }
        else if (topic == _topics.Status)
        {
            if (WireJson.TryParse(payload, out WorkerStatusUpdate? s, out error)) message = new WorkerStatusReported(s);
        }
        else if (topic == _topics.Heartbeat)
        {
            if (WireJson.TryParse(payload, out WorkerHeartbeat? h, out error)) message = new WorkerHeartbeatReceived(h);
        }
        else
        {
            return Task.CompletedTask;
        }

        if (message is null)
            _log.LogWarning("Dropped a malformed message on {Topic} ({Bytes} bytes): {Error}", topic, payload.Length, error);
        else
            _dispatcher.ActorRef.Tell(message);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
