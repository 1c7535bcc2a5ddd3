using System.Collections.Concurrent;
using AiSystem.Messages;
using AiSystem.Messages.Mqtt;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet.Protocol;

namespace AiSystem.Integration.Tests.Infrastructure;

/// <summary>Listens on <c>upb/logs</c> of a broker, as an operator's tool would.</summary>
public sealed class LogListener : IAsyncDisposable
{
    private readonly MqttConnection _connection;

    public ConcurrentQueue<LogMessage> Lines { get; } = new();
    public ConcurrentQueue<string> Raw { get; } = new();

    private LogListener(MqttConnection connection) => _connection = connection;

    public static async Task<LogListener> StartAsync(int port)
    {
        var topics = new Topics();
        var connection = new MqttConnection(new MqttOptions { Host = "127.0.0.1", Port = port },
            new MqttConnectionSettings($"test-logs-{Guid.NewGuid():N}", [(topics.Logs, MqttQualityOfServiceLevel.AtMostOnce)]),
            NullLogger.Instance);
        var listener = new LogListener(connection);
        connection.MessageReceived = (_, payload) =>
        {
            listener.Raw.Enqueue(System.Text.Encoding.UTF8.GetString(System.Buffers.BuffersExtensions.ToArray(payload)));
            if (WireJson.TryParse(payload, out LogMessage? line, out string? _)) listener.Lines.Enqueue(line);
            return Task.CompletedTask;
        };
        connection.Start();
        await connection.FirstConnect.WaitAsync(TimeSpan.FromSeconds(10));
        return listener;
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
