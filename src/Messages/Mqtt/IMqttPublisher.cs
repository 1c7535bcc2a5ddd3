using MQTTnet.Protocol;

namespace AiSystem.Messages.Mqtt;

/// <summary>Somewhere MQTT messages can be published: a client connection, or the master's embedded broker itself.</summary>
public interface IMqttPublisher
{
    bool IsConnected { get; }

    Task PublishAsync(string topic, byte[] payload, MqttQualityOfServiceLevel qos, bool retain = false, CancellationToken cancellationToken = default);
}
