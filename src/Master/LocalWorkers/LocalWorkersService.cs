using AiSystem.Master.Configuration;
using AiSystem.Messages.Cluster;
using AiSystem.Messages.Mqtt;
using AiSystem.Worker;
using Microsoft.Extensions.Options;

namespace AiSystem.Master.LocalWorkers;

/// <summary>
/// <c>Master__LocalWorkers</c> in-process workers: each is a whole worker host (its own MQTT connection, actor
/// system and gRPC client) running the same code as <c>src/Worker</c>, over loopback MQTT and gRPC.
/// </summary>
public sealed class LocalWorkersService(IConfiguration configuration, IOptions<MasterOptions> master, IOptions<MqttOptions> mqtt,
    IOptions<AkkaOptions> akka, IHostApplicationLifetime lifetime, ILogger<LocalWorkersService> log) : IHostedService
{
    private readonly List<IHost> _workers = [];
    private Task _starting = Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var count = master.Value.LocalWorkers;
        if (count == 0) return Task.CompletedTask;
        // After Kestrel listens, so the workers' first results find the gRPC port open.
        lifetime.ApplicationStarted.Register(() => _starting = Task.Run(() => StartWorkersAsync(count)));
        return Task.CompletedTask;
    }

    private async Task StartWorkersAsync(int count)
    {
        var suffix = Guid.NewGuid().ToString("N")[..6];
        for (var n = 1; n <= count; n++)
        {
            var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Configuration.AddConfiguration(configuration);
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Mqtt:Host"] = string.IsNullOrEmpty(mqtt.Value.Host) ? "127.0.0.1" : mqtt.Value.Host,
                ["Worker:Id"] = $"csharp-local-{n}-{suffix}",
                // Cluster members of their own (any free port), joining this master.
                ["Akka:Port"] = "0",
                ["Akka:SeedNodes"] = akka.Value.Address(akka.Value.Hostname, akka.Value.EffectivePort(ClusterRoles.Master)),
                ["Worker:HealthPort"] = "0",
            });
            builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
            // The master's lifetime decides when they stop (after it has drained), not their own Ctrl+C handler.
            builder.Services.AddSingleton<IHostLifetime, HostedByMaster>();
            builder.AddAiWorker();
            var host = builder.Build();
            try
            {
                await host.StartAsync();
                lock (_workers) _workers.Add(host);
            }
            catch (Exception e)
            {
                log.LogError("Local worker {Number} failed to start: {Error}", n, e.Message);
                host.Dispose();
            }
        }
        log.LogInformation("{Count} local worker(s) started", count);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _starting;
        IHost[] workers;
        lock (_workers) workers = [.. _workers];
        await Task.WhenAll(workers.Select(async h =>
        {
            await h.StopAsync(cancellationToken);
            h.Dispose();
        }));
    }
}

/// <summary>The lifetime of an in-process worker: started and stopped by <see cref="LocalWorkersService"/> only.</summary>
internal sealed class HostedByMaster : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
