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

/// <summary>
/// An MQTT client for the broker's access tests: any client id and credentials, a last will, and the broker's answer
/// to every connect, subscribe and publish (not retried, not hidden), with everything it receives recorded.
/// </summary>
public sealed class MqttSpy : IAsyncDisposable
{
    private readonly MQTTnet.IMqttClient _client;

    public System.Collections.Concurrent.ConcurrentQueue<(string Topic, string Payload)> Received { get; } = new();

    private MqttSpy(MQTTnet.IMqttClient client)
    {
        _client = client;
        client.ApplicationMessageReceivedAsync += e =>
        {
            Received.Enqueue((e.ApplicationMessage.Topic, System.Text.Encoding.UTF8.GetString(System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload))));
            return Task.CompletedTask;
        };
    }

    /// <summary>Connects (MQTT 5) and returns the broker's reason code; the spy is null when it was refused.</summary>
    public static async Task<(MQTTnet.MqttClientConnectResultCode Code, MqttSpy? Spy)> ConnectAsync(string host, int port, string clientId,
        string? username = null, string? password = null, string? willTopic = null, byte[]? willPayload = null)
    {
        var client = new MQTTnet.MqttClientFactory().CreateMqttClient();
        var builder = new MQTTnet.MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId(clientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithTimeout(TimeSpan.FromSeconds(10));
        if (username is not null) builder.WithCredentials(username, password);
        if (willTopic is not null) builder.WithWillTopic(willTopic).WithWillPayload(willPayload).WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
        MQTTnet.MqttClientConnectResultCode code;
        try
        {
            code = (await client.ConnectAsync(builder.Build())).ResultCode;
        }
        catch (MQTTnet.Adapter.MqttConnectingFailedException e) when (
            Enum.GetNames<MQTTnet.MqttClientConnectResultCode>().FirstOrDefault(n => e.Message.Contains(n, StringComparison.Ordinal)) is { } name)
        {
            code = Enum.Parse<MQTTnet.MqttClientConnectResultCode>(name); // v5 names the reason only in the message
        }
        if (code == MQTTnet.MqttClientConnectResultCode.Success) return (code, new MqttSpy(client));
        client.Dispose();
        return (code, null);
    }

    public async Task<MQTTnet.MqttClientSubscribeResultCode> SubscribeAsync(string filter)
    {
        var result = await _client.SubscribeAsync(new MQTTnet.MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce).Build());
        return result.Items.Single().ResultCode;
    }

    /// <summary>QoS 1, so the broker's verdict comes back in the acknowledgement.</summary>
    public async Task<MQTTnet.MqttClientPublishReasonCode> PublishAsync(string topic, string payload) =>
        (await _client.PublishAsync(new MQTTnet.MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build())).ReasonCode;

    public bool IsConnected => _client.IsConnected;

    public async ValueTask DisposeAsync()
    {
        try { if (_client.IsConnected) await _client.DisconnectAsync(new MQTTnet.MqttClientDisconnectOptionsBuilder().Build()); } catch (Exception) { /* gone already */ }
        _client.Dispose();
    }
}

/// <summary>
/// MQTT 3.1.1 by hand, for what a well-behaved client library will not do: die without a DISCONNECT (so the broker
/// publishes the last will), or announce a packet far over any limit.
/// </summary>
public static class RawMqtt
{
    /// <summary>Connects (clean session, keep-alive 60 s) and returns the CONNACK return code (0: accepted) with the socket.</summary>
    public static async Task<(int ReturnCode, System.Net.Sockets.TcpClient Tcp)> ConnectAsync(int port, string clientId,
        string? willTopic = null, string? willPayload = null, string? username = null, string? password = null)
    {
        var flags = 0x02 | (willTopic is null ? 0 : 0x04 | 0x08) | (username is null ? 0 : 0x80) | (password is null ? 0 : 0x40);
        var body = new List<byte> { 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, (byte)flags, 0, 60 };
        Str(body, clientId);
        if (willTopic is not null) { Str(body, willTopic); Str(body, willPayload ?? ""); }
        if (username is not null) Str(body, username);
        if (password is not null) Str(body, password);
        var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(System.Net.IPAddress.Loopback, port);
        await tcp.GetStream().WriteAsync(Packet(0x10, body));
        var ack = new byte[4];
        await tcp.GetStream().ReadExactlyAsync(ack).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        return (ack[0] == 0x20 ? ack[3] : -1, tcp);
    }

    /// <summary>A QoS 0 publish (no acknowledgement to wait for).</summary>
    public static async Task PublishAsync(System.Net.Sockets.TcpClient tcp, string topic, string payload)
    {
        var body = new List<byte>();
        Str(body, topic);
        body.AddRange(System.Text.Encoding.UTF8.GetBytes(payload));
        await tcp.GetStream().WriteAsync(Packet(0x30, body));
    }

    /// <summary>A fixed header announcing <paramref name="remainingLength"/> bytes (the caller sends them, or tries to).</summary>
    public static byte[] Header(byte type, long remainingLength)
    {
        var header = new List<byte> { type };
        do
        {
            var b = (byte)(remainingLength & 0x7F);
            remainingLength >>= 7;
            header.Add(remainingLength > 0 ? (byte)(b | 0x80) : b);
        } while (remainingLength > 0);
        return [.. header];
    }

    private static byte[] Packet(byte type, List<byte> body) => [.. Header(type, body.Count), .. body];

    public static void Str(List<byte> to, string s)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(s);
        to.Add((byte)(bytes.Length >> 8));
        to.Add((byte)bytes.Length);
        to.AddRange(bytes);
    }
}
