using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using MQTTnet.Protocol;

namespace AiSystem.Messages.Mqtt;

/// <summary>
/// An <see cref="ILoggerProvider"/> that copies our own log lines (categories starting with <c>AiSystem</c>) to
/// <c>upb/logs</c>. Lines wait in a bounded buffer until a connection is attached; when the buffer is full the
/// oldest lines are dropped: the broker copy of the log is best effort, the console copy is complete.
/// </summary>
public sealed class MqttLogSink : ILoggerProvider
{
    private readonly Channel<LogMessage> _lines = Channel.CreateBounded<LogMessage>(
        new BoundedChannelOptions(2048) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
    private readonly ConcurrentDictionary<string, Logger> _loggers = new();
    private readonly string _source;
    private readonly LogLevel _minimum;
    private readonly CancellationTokenSource _stop = new();
    private Task? _pump;

    public MqttLogSink(string source, LogLevel minimum = LogLevel.Information)
    {
        _source = source;
        _minimum = minimum;
    }

    /// <summary>Starts publishing buffered and future lines on <paramref name="topic"/> through <paramref name="connection"/>.</summary>
    public void Attach(IMqttPublisher connection, string topic) =>
        _pump ??= Task.Run(() => PumpAsync(connection, topic, _stop.Token));

    private async Task PumpAsync(IMqttPublisher connection, string topic, CancellationToken ct)
    {
        try
        {
            await foreach (var line in _lines.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                if (!connection.IsConnected) continue; // best effort: console has the line
                try { await connection.PublishAsync(topic, WireJson.Serialize(line), MqttQualityOfServiceLevel.AtMostOnce, cancellationToken: ct).ConfigureAwait(false); }
                catch (Exception) when (!ct.IsCancellationRequested) { /* never log from the log sink */ }
            }
        }
        catch (OperationCanceledException) { }
    }

    public ILogger CreateLogger(string categoryName) => _loggers.GetOrAdd(categoryName, c => new Logger(this, c));

    public void Dispose()
    {
        _lines.Writer.TryComplete();
        _stop.Cancel();
        _stop.Dispose();
    }

    private sealed class Logger(MqttLogSink sink, string category) : ILogger
    {
        private readonly bool _ours = category.StartsWith("AiSystem", StringComparison.Ordinal);

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => _ours && logLevel >= sink._minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var message = formatter(state, exception);
            if (exception is not null) message += $" ({exception.GetType().Name}: {exception.Message})";
            string? taskId = null, sessionId = null;
            if (state is IReadOnlyList<KeyValuePair<string, object?>> fields)
            {
                foreach (var (key, value) in fields)
                {
                    if (key == "TaskId") taskId = value?.ToString();
                    else if (key == "SessionId") sessionId = value?.ToString();
                }
            }
            sink._lines.Writer.TryWrite(new LogMessage
            {
                Timestamp = EpochMs.Now(),
                Source = sink._source,
                Message = message,
                Level = logLevel switch
                {
                    LogLevel.Trace or LogLevel.Debug => "debug",
                    LogLevel.Information => "info",
                    LogLevel.Warning => "warning",
                    _ => "error",
                },
                TaskId = taskId,
                SessionId = sessionId,
            });
        }
    }
}
