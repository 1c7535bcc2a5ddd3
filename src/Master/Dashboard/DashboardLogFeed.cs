using Akka.Actor;
using Akka.Hosting;
using AiSystem.Messages;
using AiSystem.Messages.Mqtt;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;

namespace AiSystem.Master.Dashboard;

/// <summary>
/// Reads <c>upb/logs</c> (every process's log lines, this master's own included) for the dashboard's log tail. Its
/// own MQTT connection at QoS 0: a busy log never queues behind, or delays, the worker messages the dispatcher reads
/// on the master's main connection. With the embedded broker it reads the topic in process instead. Lines that do not
/// parse are skipped without a word (a warning would be a log line itself).
/// </summary>
public sealed class DashboardLogFeed : IHostedService, IAsyncDisposable
{
    private readonly MqttConnection? _connection;

    public DashboardLogFeed(IOptions<MqttOptions> options, IRequiredActor<DashboardActor> dashboard, IServiceProvider services,
        ILogger<DashboardLogFeed> log)
    {
        var topic = options.Value.Topics.Logs;
        if (services.GetService<Mqtt.EmbeddedBroker>() is { } embedded)
        {
            embedded.Observe(topic, (_, payload) =>
            {
                if (WireJson.TryParse(payload, out LogMessage? line, out string? _))
                    dashboard.ActorRef.Tell(new LogLineReceived(line));
            });
            return;
        }
        _connection = new MqttConnection(options.Value,
            new MqttConnectionSettings($"master-logs-{Guid.NewGuid():N}", [(topic, MqttQualityOfServiceLevel.AtMostOnce)]), log)
        {
            MessageReceived = (_, payload) =>
            {
                if (WireJson.TryParse(payload, out LogMessage? line, out string? _))
                    dashboard.ActorRef.Tell(new LogLineReceived(line));
                return Task.CompletedTask;
            },
        };
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _connection?.Start(); // in the background: the dashboard must never hold up the master's start
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _connection?.StopAsync() ?? Task.CompletedTask;

    public ValueTask DisposeAsync() => _connection?.DisposeAsync() ?? ValueTask.CompletedTask;
}
