using System.Net;
using System.Net.Sockets;
using AiSystem.Master.Configuration;
using AiSystem.Master.Mqtt;
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
public sealed class GrpcHealthCheck(IOptions<MasterOptions> options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var port = options.Value.GrpcPort;
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            return HealthCheckResult.Healthy($"gRPC port {port} is listening");
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy($"gRPC port {port} is not listening");
        }
    }
}
