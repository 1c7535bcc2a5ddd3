using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AiSystem.Worker;

public static class HealthTags
{
    public const string Live = "live";
    public const string Ready = "ready";
}

/// <summary>Ready only while the worker is connected to the broker: that is where its tasks come from.</summary>
public sealed class MqttHealthCheck(WorkerMqttBridge bridge) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(bridge.IsConnected
            ? HealthCheckResult.Healthy("connected to the MQTT broker")
            : HealthCheckResult.Unhealthy("not connected to the MQTT broker"));
}

/// <summary>
/// <c>/healthz/live</c> and <c>/healthz/ready</c> on <c>Worker__HealthPort</c>, for Docker and orchestrators. A tiny
/// Kestrel of its own that runs the worker's own health checks, bound like its Akka remoting (<c>Network__Workers</c>,
/// loopback by default: a container's own healthcheck reaches it there).
/// </summary>
public sealed class HealthEndpoint(WorkerSettings settings, WorkerBindAddress bind, HealthCheckService health, ILogger<HealthEndpoint> log)
    : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            if (bind.Address.Equals(System.Net.IPAddress.Any)) k.ListenAnyIP(settings.Worker.HealthPort);
            else k.Listen(bind.Address, settings.Worker.HealthPort);
        });
        _app = builder.Build();
        _app.MapGet("/healthz/live", ctx => Report(ctx, HealthTags.Live));
        _app.MapGet("/healthz/ready", ctx => Report(ctx, HealthTags.Ready));
        await _app.StartAsync(cancellationToken);
        log.LogInformation("Health endpoint on {Address}:{Port}", bind.Address, settings.Worker.HealthPort);
    }

    private async Task Report(HttpContext context, string tag)
    {
        var report = await health.CheckHealthAsync(r => r.Tags.Contains(tag), context.RequestAborted);
        context.Response.StatusCode = report.Status == HealthStatus.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
        context.Response.ContentType = "text/plain";
        await context.Response.WriteAsync(report.Status + "\n" + string.Join("\n",
            report.Entries.Select(e => $"{e.Key}: {e.Value.Status} {e.Value.Description}")) + "\n");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null) await _app.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
    }
}

/// <summary>Where this worker listens (<c>Network__Workers</c>): its Akka remoting and its health port.</summary>
public sealed record WorkerBindAddress(System.Net.IPAddress Address);
