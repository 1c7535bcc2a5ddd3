using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Configuration;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Mqtt;
using AiSystem.Master.Persistence;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace AiSystem.Master.Observability;

public static class HealthTags
{
    public const string Live = "live";
    public const string Ready = "ready";
}

/// <summary>Ready only with a broker connection: without it no task reaches a worker.</summary>
public sealed class MqttHealthCheck(MasterMqttBridge bridge) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(bridge.IsConnected
            ? HealthCheckResult.Healthy("connected to the MQTT broker")
            : HealthCheckResult.Unhealthy("not connected to the MQTT broker"));
}

/// <summary>Ready only when the gRPC port accepts connections: that is where every answer arrives.</summary>
public sealed class GrpcHealthCheck(IOptions<MasterOptions> options, ListenPolicy listen) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var port = options.Value.GrpcPort;
        try
        {
            using var client = new TcpClient();
            // Loopback answers when bound to loopback or to every interface; otherwise only the one address bound.
            var address = listen.WorkersAddress.Equals(IPAddress.Any) ? IPAddress.Loopback : listen.WorkersAddress;
            await client.ConnectAsync(address, port, cancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            return HealthCheckResult.Healthy($"gRPC port {port} is listening");
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy($"gRPC port {port} is not listening");
        }
    }
}

/// <summary>
/// Ready only when the dispatcher answers, through the singleton proxy, within 2 s: without it no question is
/// admitted. It does not answer while it recovers, or while it is being restarted after a journal failure.
/// </summary>
public sealed class DispatcherHealthCheck(IRequiredActor<DispatcherActor> dispatcher) : IHealthCheck
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var pong = await dispatcher.ActorRef.Ask<DispatcherPong>(DispatcherPing.Instance, Timeout, cancellationToken);
            return HealthCheckResult.Healthy($"the dispatcher answers ({pong.Tasks} open task(s), {pong.Workers} worker(s))");
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return HealthCheckResult.Unhealthy($"the dispatcher did not answer within {Timeout.TotalSeconds:0} s");
        }
    }
}

/// <summary>
/// Ready only while the journal works: after a failure (a write batch, a read, a snapshot) and until something
/// succeeds again, it probes the database (<see cref="JournalProbe"/>: PostgreSQL <c>SELECT 1</c>; SQLite takes the
/// write lock and lets it go, since a file locked by another process still answers reads); a database that passes
/// makes the journal worth trying again.
/// </summary>
public sealed class JournalHealthCheck(JournalHealth journal, JournalProbe probe) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var error = journal.LastError is { } e ? $" ({e.Type}: {e.Message})" : "";
        return await probe.ProbeIfFailingAsync(cancellationToken) switch
        {
            JournalProbe.Outcome.Works => HealthCheckResult.Healthy("the journal works"),
            JournalProbe.Outcome.AnswersAgain => HealthCheckResult.Healthy("the journal's database answers again"),
            _ => HealthCheckResult.Unhealthy($"the journal's database does not answer{error}"),
        };
    }
}
