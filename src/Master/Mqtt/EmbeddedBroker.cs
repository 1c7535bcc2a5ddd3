using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using AiSystem.Master.Configuration;
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
/// Production uses Mosquitto. Workers are who they say they are (issue 14): see <see cref="BrokerAccessPolicy"/>.
/// </summary>
public sealed class EmbeddedBroker(IOptions<MqttOptions> options, ListenPolicy listen, ILogger<EmbeddedBroker> log)
    : IHostedService, IMqttPublisher, IDisposable
{
    /// <summary>The master's own publishes (injected, no socket); random, so no client can connect as it.</summary>
    private readonly string _senderId = $"master-{Guid.NewGuid():N}";
    private MqttServer? _server;
    private BrokerAccessPolicy? _policy;
    private volatile (string Topic, Action<string, ReadOnlySequence<byte>> Handler)[] _observers = [];
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>(client id, claimed worker id) pairs already warned about: one line each, not one per heartbeat.</summary>
    private readonly ConcurrentDictionary<(string, string), byte> _forgeries = new();

    /// <summary>Completes once the broker listens.</summary>
    public Task Started => _started.Task;

    public bool IsConnected => _server?.IsStarted == true;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var mqtt = options.Value;
        var addresses = listen.WorkerListenAddresses();
        var adapter = new SizeLimitedTcpAdapter(addresses, mqtt.Port, mqtt.MaxMessageBytes, log);
        var serverOptions = new MqttServerOptionsBuilder().WithPersistentSessions().Build();
        _server = new MqttServerFactory().CreateMqttServer(serverOptions, [adapter]);
        var anywhere = listen.AllowAnonymousWorkers;
        _policy = new BrokerAccessPolicy(mqtt.Topics, mqtt.Username, mqtt.Password, allowAnonymousAnywhere: anywhere);
        _server.ValidatingConnectionAsync += OnConnecting;
        _server.InterceptingSubscriptionAsync += OnSubscribing;
        _server.InterceptingPublishAsync += OnPublishing;
        await _server.StartAsync();
        _started.TrySetResult();
        log.LogInformation("Embedded MQTT broker listening on {Addresses} port {Port}: credentials {Credentials}, anonymous clients {Anonymous}, packets up to {Max} bytes",
            string.Join(", ", addresses.Select(a => a.ToString())), mqtt.Port, _policy.RequiresCredentials ? "configured" : "not configured",
            anywhere ? "from anywhere" : "from loopback only", mqtt.MaxMessageBytes);
    }

    private Task OnConnecting(ValidatingConnectionEventArgs e)
    {
        var remote = (e.RemoteEndPoint as IPEndPoint)?.Address;
        if (e.ClientId == _senderId)
        {
            e.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid;
            return Task.CompletedTask;
        }
        switch (_policy!.CanConnect(e.UserName, e.Password, remote))
        {
            case BrokerAccessPolicy.Connect.BadCredentials:
                e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
                log.LogWarning("Embedded MQTT broker: refused client {ClientId} from {Remote}: wrong user name or password", e.ClientId, remote);
                break;
            case BrokerAccessPolicy.Connect.NotAuthorized:
                e.ReasonCode = MqttConnectReasonCode.NotAuthorized;
                log.LogWarning("Embedded MQTT broker: refused anonymous client {ClientId} from {Remote} (Mqtt__Username/Mqtt__Password, or Security__AllowAnonymousWorkers=true)",
                    e.ClientId, remote);
                break;
        }
        return Task.CompletedTask;
    }

    private Task OnSubscribing(InterceptingSubscriptionEventArgs e)
    {
        if (_policy!.CanSubscribe(e.ClientId, e.TopicFilter.Topic)) return Task.CompletedTask;
        e.ProcessSubscription = false;
        e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
        log.LogWarning("Embedded MQTT broker: refused client {ClientId} the subscription to {Filter}", e.ClientId, e.TopicFilter.Topic);
        return Task.CompletedTask;
    }

    private Task OnPublishing(InterceptingPublishEventArgs e)
    {
        var message = e.ApplicationMessage;
        if (e.ClientId == _senderId) return Task.CompletedTask; // the master's own, already observed in PublishAsync
        switch (_policy!.CanPublish(e.ClientId, message.Topic, message.Payload, out var claimed))
        {
            case BrokerAccessPolicy.Publish.Allow:
                Notify(message.Topic, message.Payload);
                break;
            case BrokerAccessPolicy.Publish.ForgedIdentity:
                e.ProcessPublish = false;
                e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
                if (FirstTime(e.ClientId, claimed!))
                    log.LogWarning("Embedded MQTT broker: dropped messages on {Topic} from client {ClientId} claiming to be worker {Claimed}",
                        message.Topic, e.ClientId, claimed);
                break;
            default:
                e.ProcessPublish = false;
                e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
                if (FirstTime(e.ClientId, message.Topic))
                    log.LogWarning("Embedded MQTT broker: dropped a publish to {Topic} from client {ClientId}: not allowed", message.Topic, e.ClientId);
                break;
        }
        return Task.CompletedTask;
    }

    /// <summary>One warning per client and what it tried (a bounded memory of them), not one per heartbeat.</summary>
    private bool FirstTime(string clientId, string what) => _forgeries.Count < 10_000 && _forgeries.TryAdd((clientId, what), 0);

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
        return server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = _senderId }, cancellationToken);
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
