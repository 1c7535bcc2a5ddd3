using AiSystem.Messages.Mqtt;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet.Protocol;

namespace AiSystem.Integration.Tests.Infrastructure;

/// <summary>A bare MQTT client for tests that publish what they like (e.g. garbage) to the broker.</summary>
public sealed class MqttProbe : IAsyncDisposable
{
    private readonly MqttConnection _connection;

    private MqttProbe(MqttConnection connection) => _connection = connection;

    public static async Task<MqttProbe> ConnectAsync(int port)
    {
        var connection = new MqttConnection(new MqttOptions { Host = "127.0.0.1", Port = port },
            new MqttConnectionSettings($"test-probe-{Guid.NewGuid():N}", []), NullLogger.Instance);
        connection.Start();
        await connection.FirstConnect.WaitAsync(TimeSpan.FromSeconds(10));
        return new MqttProbe(connection);
    }

    public Task PublishAsync(string topic, byte[] payload) =>
        _connection.PublishAsync(topic, payload, MqttQualityOfServiceLevel.AtLeastOnce);

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
