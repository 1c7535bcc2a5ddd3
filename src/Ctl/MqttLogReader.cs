using System.Threading.Channels;
using AiSystem.Messages;
using AiSystem.Messages.Mqtt;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;

namespace AiSystem.Ctl;

/// <summary>
/// Subscribes to <c>{prefix}/logs</c> with the shared <see cref="MqttConnection"/> and hands out the lines that
/// parse as <see cref="LogMessage"/>; malformed payloads are skipped silently.
/// </summary>
public sealed class MqttLogReader : IAsyncDisposable
{
    private readonly Channel<LogMessage> _lines = Channel.CreateBounded<LogMessage>(
        new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
    private readonly LastErrorLogger _log = new();
    private readonly MqttConnection _connection;
    private readonly string _display;
    private readonly string _host;
    private readonly int _port;
    private readonly string _username;
    private readonly string _password;
    private readonly MqttTls? _tls;

    /// <param name="tls">Over TLS (<c>--mqtt-tls</c>), the broker's certificate checked against <paramref name="caFile"/> (or the system's CAs).</param>
    public MqttLogReader(string host, int port, string? username, string? password, string topicPrefix, bool tls = false, string? caFile = null)
    {
        var options = new MqttOptions
        {
            Host = host,
            Port = port,
            Username = username ?? "",
            Password = password ?? "",
            TopicPrefix = topicPrefix,
            Tls = tls,
            CaFile = tls ? caFile ?? "" : "",
        };
        if (options.Validate() is { } invalid)
            throw new CtlException(invalid.Replace("Mqtt__TopicPrefix", "--topic-prefix", StringComparison.Ordinal)
                .Replace("Mqtt__Port", "the broker port", StringComparison.Ordinal)
                .Replace("Mqtt__CaFile", "--ca-file", StringComparison.Ordinal), 2);
        try { _tls = MqttTls.From(options); }
        catch (AiSystem.Messages.Tls.TlsSettingException e) { throw new CtlException(e.Message.Replace("Mqtt__CaFile", "--ca-file", StringComparison.Ordinal), 2); }
        Topic = options.Topics.Logs;
        _host = host;
        _port = port;
        _username = options.Username;
        _password = options.Password;
        _display = host.Contains(':') ? $"[{host}]:{port}" : $"{host}:{port}";
        var settings = new MqttConnectionSettings($"aictl-{Guid.NewGuid():N}", [(Topic, MqttQualityOfServiceLevel.AtMostOnce)]);
        _connection = new MqttConnection(options, settings, _log)
        {
            MessageReceived = (_, payload) =>
            {
                if (WireJson.TryParse(payload, out LogMessage? line, out string? _)) _lines.Writer.TryWrite(line);
                return Task.CompletedTask;
            },
        };
    }

    public string Topic { get; }

    public ChannelReader<LogMessage> Lines => _lines.Reader;

    /// <summary>Connects and subscribes; a <see cref="CtlException"/> naming the broker when that fails within <paramref name="timeout"/>.</summary>
    /// <remarks>
    /// MqttConnection retries for ever and only logs why a connect failed, so at the first failure aictl opens a plain
    /// TCP connection itself: refused or unknown host fails at once with that reason; a refused login fails at once;
    /// anything else (TCP fine, MQTT not yet) waits out the rest of <paramref name="timeout"/>.
    /// </remarks>
    public async Task ConnectAsync(TimeSpan timeout, CancellationToken ct)
    {
        _connection.Start();
        var deadline = Task.Delay(timeout, ct);
        var done = await Task.WhenAny(_connection.FirstConnect, _log.FirstFailure, deadline).ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
        if (done == _log.FirstFailure && !_connection.FirstConnect.IsCompleted)
        {
            var error = await _log.FirstFailure.ConfigureAwait(false);
            if (IsLoginRefused(error)) throw BrokerFailure(_display, error, timeout);
            if (await ProbeAsync(_host, _port, timeout, ct).ConfigureAwait(false) is { } reason)
                throw BrokerFailure(_display, reason, timeout);
            // TCP is fine: ask the broker itself why it would not have us (a refused login, say).
            if (!_connection.FirstConnect.IsCompleted && await ProbeMqttAsync(timeout, ct).ConfigureAwait(false) is { } refusal)
                throw BrokerFailure(_display, refusal, timeout);
            done = await Task.WhenAny(_connection.FirstConnect, deadline).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
        }
        if (_connection.FirstConnect.IsCompletedSuccessfully) return;
        throw BrokerFailure(_display, _log.LastError, timeout);
    }

    /// <summary>null when a TCP connection to the broker opens; else why not (<c>connection refused</c>, ...).</summary>
    private static async Task<string?> ProbeAsync(string host, int port, TimeSpan timeout, CancellationToken ct)
    {
        using var probe = CancellationTokenSource.CreateLinkedTokenSource(ct);
        probe.CancelAfter(timeout);
        try
        {
            using var tcp = new System.Net.Sockets.TcpClient();
            await tcp.ConnectAsync(host, port, probe.Token).ConfigureAwait(false);
            return null;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return $"no TCP connection within {timeout.TotalSeconds:0.#}s";
        }
        catch (System.Net.Sockets.SocketException e)
        {
            return MasterClient.Reason(e);
        }
    }

    /// <summary>null when a separate, throw-away MQTT connection succeeds; else the broker's reason code.</summary>
    private async Task<string?> ProbeMqttAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var probe = CancellationTokenSource.CreateLinkedTokenSource(ct);
        probe.CancelAfter(timeout);
        using var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(_host, _port)
            .WithClientId($"aictl-probe-{Guid.NewGuid():N}")
            .WithCleanSession()
            .WithTimeout(timeout);
        if (!string.IsNullOrEmpty(_username)) options.WithCredentials(_username, _password);
        if (_tls is not null) options.WithTlsOptions(_tls.OptionsFor(_host));
        try
        {
            var result = await client.ConnectAsync(options.Build(), probe.Token).ConfigureAwait(false);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
                return string.IsNullOrEmpty(result.ReasonString) ? result.ResultCode.ToString() : $"{result.ResultCode}: {result.ReasonString}";
            await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None).ConfigureAwait(false);
            return null;
        }
        catch (MQTTnet.Adapter.MqttConnectingFailedException e)
        {
            return e.Message;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null; // no verdict: wait for the connection loop
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or System.Net.Sockets.SocketException or IOException)
        {
            return null;
        }
    }

    private static bool IsLoginRefused(string? error) =>
        error is not null && (error.Contains("NotAuthorized", StringComparison.OrdinalIgnoreCase)
            || error.Contains("BadUserNameOrPassword", StringComparison.OrdinalIgnoreCase)
            || error.Contains("not authorized", StringComparison.OrdinalIgnoreCase));

    /// <summary>The message for a broker aictl could not connect to, from the last connect error MqttConnection logged.</summary>
    public static CtlException BrokerFailure(string broker, string? lastError, TimeSpan timeout)
    {
        if (IsLoginRefused(lastError))
            return new CtlException($"the MQTT broker at {broker} refused the login ({Text.OneLine(lastError, 120)}): set --mqtt-user and --mqtt-password.");
        var reason = lastError is null ? $"no connection within {timeout.TotalSeconds:0.#}s" : Text.OneLine(lastError.TrimEnd('.'), 120);
        return new CtlException($"cannot reach the MQTT broker at {broker} ({reason}). Is it running? Use --broker host:port (or AICTL_BROKER).");
    }

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Keeps the <c>Error</c> value of the last connect failure MqttConnection logs; prints nothing.</summary>
    private sealed class LastErrorLogger : ILogger
    {
        private readonly TaskCompletionSource<string> _firstFailure = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile string? _lastError;

        public string? LastError => _lastError;

        /// <summary>Completes with the first connect error.</summary>
        public Task<string> FirstFailure => _firstFailure.Task;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (state is not IReadOnlyList<KeyValuePair<string, object?>> fields) return;
            foreach (var (key, value) in fields)
                if (key == "Error" && value?.ToString() is { } error)
                {
                    _lastError = error;
                    _firstFailure.TrySetResult(error);
                }
        }
    }
}
