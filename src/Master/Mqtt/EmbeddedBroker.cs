using AiSystem.Messages.Mqtt;
using Microsoft.Extensions.Options;
using MQTTnet.Server;

namespace AiSystem.Master.Mqtt;

/// <summary>
/// When <c>Mqtt__Host</c> is empty the master is its own broker (MQTTnet server on <c>Mqtt__Port</c>), so one
/// process is a whole working system. Production uses Mosquitto.
/// </summary>
public sealed class EmbeddedBroker(IOptions<MqttOptions> options, ILogger<EmbeddedBroker> log) : IHostedService, IDisposable
{
    private MqttServer? _server;

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
                    e.ReasonCode = MQTTnet.Protocol.MqttConnectReasonCode.BadUserNameOrPassword;
                return Task.CompletedTask;
            };
        }
        await _server.StartAsync();
        log.LogInformation("Embedded MQTT broker listening on port {Port}", port);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null) await _server.StopAsync();
    }

    public void Dispose() => _server?.Dispose();
}
