using System.Buffers;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;

namespace AiSystem.Messages.Mqtt;

/// <summary>What one MQTT connection needs: who it is, what it subscribes to, its last will.</summary>
/// <param name="CleanSession">false: the broker keeps the subscriptions and queues QoS 1 messages while the client is away.</param>
/// <param name="WillPayload">Made anew for every connect, so the will carries a fresh timestamp.</param>
public sealed record MqttConnectionSettings(
    string ClientId,
    IReadOnlyList<(string Topic, MqttQualityOfServiceLevel Qos)> Subscriptions,
    bool CleanSession = true,
    string? WillTopic = null,
    Func<byte[]>? WillPayload = null)
{
    /// <summary>How long the broker keeps a persistent session of a client that is away (MQTT 5).</summary>
    public static readonly TimeSpan PersistentSessionExpiry = TimeSpan.FromMinutes(10);
}

/// <summary>
/// One MQTT client that stays connected: connects with backoff, resubscribes and re-announces after every
/// reconnect. MQTTnet v5 has no managed client, so this is the one reconnect loop master and workers share.
/// </summary>
public sealed class MqttConnection : IMqttPublisher, IAsyncDisposable
{
    private static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);

    private readonly MqttOptions _options;
    private readonly MqttConnectionSettings _settings;
    private readonly MqttTls? _tls;
    private readonly ILogger _logger;
    private readonly IMqttClient _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _firstConnect = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _disconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;

    /// <summary>Called for every message received; exceptions are logged, never rethrown into MQTTnet.</summary>
    public Func<string, ReadOnlySequence<byte>, Task>? MessageReceived { get; set; }

    /// <summary>Called after every successful (re)connect and subscribe, e.g. to publish a registration.</summary>
    public Func<CancellationToken, Task>? Connected { get; set; }

    /// <summary>Called when an established connection is lost (not on a deliberate stop).</summary>
    public Action? Disconnected { get; set; }

    public MqttConnection(MqttOptions options, MqttConnectionSettings settings, ILogger logger)
    {
        _options = options;
        _settings = settings;
        _logger = logger;
        _tls = MqttTls.From(options); // read once: a missing Mqtt__CaFile fails here, at start, not at every reconnect
        _client = new MqttClientFactory().CreateMqttClient();
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
        _client.DisconnectedAsync += _ =>
        {
            _disconnected.TrySetResult();
            return Task.CompletedTask;
        };
    }

    public bool IsConnected => _client.IsConnected;

    /// <summary>Completes once the first connection is up (or faults when stopped first).</summary>
    public Task FirstConnect => _firstConnect.Task;

    public void Start() => _loop ??= Task.Run(() => RunAsync(_stop.Token));

    public async Task PublishAsync(string topic, byte[] payload, MqttQualityOfServiceLevel qos, bool retain = false,
        CancellationToken cancellationToken = default)
    {
        if (!_client.IsConnected)
            throw new InvalidOperationException($"not connected to the MQTT broker at {HostName}:{_options.Port}");
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(qos)
            .WithRetainFlag(retain)
            .Build();
        var result = await _client.PublishAsync(message, cancellationToken).ConfigureAwait(false);
        if (!result.IsSuccess)
            throw new InvalidOperationException($"MQTT publish to '{topic}' was refused: {result.ReasonCode} {result.ReasonString}");
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var backoff = MinBackoff;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                _disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                await ConnectAsync(ct).ConfigureAwait(false);
                backoff = MinBackoff;
                _firstConnect.TrySetResult();
                await _disconnected.Task.WaitAsync(ct).ConfigureAwait(false);
                _logger.LogWarning("MQTT connection to {Host}:{Port} lost; reconnecting", HostName, _options.Port);
                Disconnected?.Invoke();
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                _logger.LogWarning("MQTT connect to {Host}:{Port} failed ({Error}); retrying in {Delay} ms",
                    HostName, _options.Port, e.Message, (int)backoff.TotalMilliseconds);
                try { await Task.Delay(Jitter(backoff), ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
        _firstConnect.TrySetCanceled();
    }

    private string HostName => string.IsNullOrEmpty(_options.Host) ? "localhost" : _options.Host;

    private async Task ConnectAsync(CancellationToken ct)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(HostName, _options.Port)
            .WithClientId(_settings.ClientId)
            .WithCleanSession(_settings.CleanSession)
            .WithSessionExpiryInterval(_settings.CleanSession ? 0 : (uint)MqttConnectionSettings.PersistentSessionExpiry.TotalSeconds)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(5))
            .WithTimeout(TimeSpan.FromSeconds(5));
        if (!string.IsNullOrEmpty(_options.Username))
            builder.WithCredentials(_options.Username, _options.Password);
        if (_tls is not null)
            builder.WithTlsOptions(_tls.OptionsFor(HostName));
        if (_settings.WillTopic is not null && _settings.WillPayload is not null)
            builder.WithWillTopic(_settings.WillTopic).WithWillPayload(_settings.WillPayload())
                .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var connected = await _client.ConnectAsync(builder.Build(), timeout.Token).ConfigureAwait(false);
        if (connected.ResultCode != MqttClientConnectResultCode.Success)
            throw new InvalidOperationException($"the broker refused the connection ({connected.ResultCode}{(string.IsNullOrEmpty(connected.ReasonString) ? "" : ": " + connected.ReasonString)})");

        if (_settings.Subscriptions.Count > 0)
        {
            var subscribe = new MqttClientSubscribeOptionsBuilder();
            foreach (var (topic, qos) in _settings.Subscriptions)
                subscribe.WithTopicFilter(topic, qos);
            await _client.SubscribeAsync(subscribe.Build(), timeout.Token).ConfigureAwait(false);
        }
        _logger.LogInformation("MQTT connected to {Host}:{Port}{Tls} as {ClientId}", HostName, _options.Port, _tls is null ? "" : " (TLS)", _settings.ClientId);
        if (Connected is not null)
            await Connected(ct).ConfigureAwait(false);
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        if (MessageReceived is null) return;
        try
        {
            await MessageReceived(e.ApplicationMessage.Topic, e.ApplicationMessage.Payload).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _logger.LogWarning(ex, "MQTT message on {Topic} could not be handled", e.ApplicationMessage.Topic);
        }
    }

    private static TimeSpan Jitter(TimeSpan delay) =>
        TimeSpan.FromMilliseconds(delay.TotalMilliseconds * (0.8 + Random.Shared.NextDouble() * 0.4));

    /// <summary>Publishes <paramref name="goodbye"/> (if any) and disconnects cleanly, so no last will fires.</summary>
    public async Task StopAsync(Func<Task>? goodbye = null)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_client.IsConnected)
        {
            try
            {
                if (goodbye is not null) await goodbye().ConfigureAwait(false);
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build()).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _logger.LogDebug("MQTT disconnect: {Error}", e.Message);
            }
        }
        if (_loop is not null)
            await _loop.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested) await StopAsync().ConfigureAwait(false);
        _client.Dispose();
        _stop.Dispose();
    }
}
