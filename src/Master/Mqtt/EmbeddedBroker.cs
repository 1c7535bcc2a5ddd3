using System.Buffers;
using AiSystem.Messages.Mqtt;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace AiSystem.Master.Mqtt;

/// <summary>
/// When <c>Mqtt__Host</c> is empty the master is its own broker (MQTTnet server on <c>Mqtt__Port</c>), so one
/// process is a whole working system. The master itself then talks to it in process, without a socket: it publishes
/// by injecting messages, and it reads the topics it needs as they arrive from workers (<see cref="Observe"/>).
/// Production uses Mosquitto.
/// </summary>
public sealed class EmbeddedBroker(IOptions<MqttOptions> options, ILogger<EmbeddedBroker> log) : IHostedService, IMqttPublisher, IDisposable
{
    private const string SenderId = "master";
    private MqttServer? _server;
    private volatile (string Topic, Action<string, ReadOnlySequence<byte>> Handler)[] _observers = [];
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the broker listens.</summary>
    public Task Started => _started.Task;

    public bool IsConnected => _server?.IsStarted == true;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var port = options.Value.Port;
        var serverOptions = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointPort(port)
            .WithPersistentSessions()
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(serverOptions);
        var (user, password) = (options.Value.Username, options.Value.Password);
        if (!string.IsNullOrEmpty(user))
        {
            _server.ValidatingConnectionAsync += e =>
            {
                if (e.UserName != user || e.Password != password)
                    e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
                return Task.CompletedTask;
            };
        }
        _server.InterceptingPublishAsync += e =>
        {
            Notify(e.ApplicationMessage.Topic, e.ApplicationMessage.Payload);
            return Task.CompletedTask;
        };
        await _server.StartAsync();
        _started.TrySetResult();
        log.LogInformation("Embedded MQTT broker listening on port {Port}", port);
    }

    /// <summary>
    /// Calls <paramref name="handler"/> for every message on <paramref name="topic"/> (an exact topic), from clients
    /// and from the master's own publishes, on the publisher's thread: keep it short (parse, tell an actor).
    /// </summary>
    public void Observe(string topic, Action<string, ReadOnlySequence<byte>> handler)
    {
        lock (_started) _observers = [.. _observers, (topic, handler)];
    }

    public Task PublishAsync(string topic, byte[] payload, MqttQualityOfServiceLevel qos, bool retain = false, CancellationToken cancellationToken = default)
    {
        if (_server is not { IsStarted: true } server)
            throw new InvalidOperationException("the embedded MQTT broker is not running");
        Notify(topic, new ReadOnlySequence<byte>(payload));
        var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(qos).WithRetainFlag(retain).Build();
        return server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = SenderId }, cancellationToken);
    }

    private void Notify(string topic, ReadOnlySequence<byte> payload)
    {
        foreach (var (t, handler) in _observers)
        {
            if (!string.Equals(t, topic, StringComparison.Ordinal)) continue;
            try { handler(topic, payload); }
            catch (Exception e) { log.LogWarning("Embedded broker: a handler of {Topic} failed: {Error}", topic, e.Message); }
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null) await _server.StopAsync();
    }

    public void Dispose() => _server?.Dispose();
}
