using Akka.Cluster.Hosting;
using Akka.Hosting;
using AiSystem.Messages.Cluster;
using AiSystem.Messages.Configuration;
using AiSystem.Messages.Mqtt;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AiSystem.Worker;

public static class WorkerHosting
{
    /// <summary>
    /// Everything a worker process is: settings, the model selector, the gRPC result sender, the worker actor and its
    /// MQTT edge. The master calls this too, for its in-process workers (<c>Master__LocalWorkers</c>).
    /// </summary>
    public static IHostApplicationBuilder AddAiWorker(this IHostApplicationBuilder builder)
    {
        var settings = WorkerSettings.Load(builder.Configuration);
        // Akka remoting binds where Network__Workers says (loopback by default; "any" in Swarm), as on the master.
        var bind = BindAddress.Parse(NetworkOptions.From(builder.Configuration).Workers, "Network__Workers", out var bindError)
            ?? throw new InvalidOperationException("Invalid worker settings: " + bindError);
        var logSink = new MqttLogSink(settings.Worker.EffectiveId);
        builder.Logging.AddProvider(logSink);
        // Our lines at Information; the libraries only when something is wrong.
        builder.Logging.AddFilter("Akka", LogLevel.Warning);
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);

        var services = builder.Services;
        services.AddSingleton(settings);
        services.AddSingleton(new WorkerBindAddress(bind));
        services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.Worker.ShutdownTimeout + TimeSpan.FromSeconds(10));
        services.AddSingleton(logSink);
        services.AddHttpClient("gemini", c => c.Timeout = settings.Gemini.RequestTimeout);
        services.AddSingleton(sp => new ModelSelector(settings.Llm, settings.Gemini,
            sp.GetRequiredService<IHttpClientFactory>().CreateClient("gemini"), settings.Worker.SimulatedDelay));
        services.AddSingleton<IMasterDirectory, ClusterMasterDirectory>();
        services.AddSingleton(sp => new TaskOrigin(sp.GetRequiredService<IMasterDirectory>(), settings.Worker.MasterEndpointList));
        services.AddSingleton<IResultSender>(sp => new GrpcResultSender(sp.GetRequiredService<ILogger<GrpcResultSender>>(),
            masters: sp.GetRequiredService<IMasterDirectory>(), masterCa: settings.MasterCa));
        services.AddSingleton(sp => new TaskRunner(settings.Worker.EffectiveId, sp.GetRequiredService<ModelSelector>(),
            sp.GetRequiredService<IResultSender>(), settings.Worker.SimulatedDelay, sp.GetRequiredService<ILogger<TaskRunner>>()));
        var version = typeof(WorkerHosting).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        services.AddHealthChecks()
            .AddCheck<MqttHealthCheck>("mqtt", tags: [HealthTags.Ready]);
        services.AddAkka(AkkaOptions.SystemName, b => b
            // The host stops the actor system after the MQTT edge has drained; Akka must not stop it first on SIGTERM.
            .AddHocon("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off", HoconAddMode.Prepend)
            .WithAiCluster(settings.Akka, ClusterRoles.Worker, version, bindAddress: bind, tls: settings.Remoting)
            .WithActorSystemLivenessCheck(tags: [HealthTags.Live])
            // Without the cluster the worker still serves over MQTT: degraded, not unready.
            .WithAkkaClusterReadinessCheck(HealthStatus.Degraded, [HealthTags.Ready])
            .WithActors((system, _, resolver) =>
                ClusterHosting.ReportClusterJoin(system, resolver.GetService<ILoggerFactory>().CreateLogger("AiSystem.Worker.Cluster"),
                    TimeSpan.FromSeconds(15)))
            .AddWorkerActor()
            .WithActors((system, _, resolver) =>
            {
                if (settings.Worker.ExitWithoutMasterAfter > TimeSpan.Zero)
                    system.ActorOf(resolver.Props<ClusterMembershipWatch>(settings.Worker.ExitWithoutMasterAfter), "cluster-membership-watch");
            }));
        if (settings.Worker.HealthPort > 0)
            services.AddHostedService<HealthEndpoint>();
        services.AddSingleton<WorkerMqttBridge>();
        services.AddSingleton<IWorkerStatusReporter>(sp => sp.GetRequiredService<WorkerMqttBridge>());
        services.AddHostedService(sp => sp.GetRequiredService<WorkerMqttBridge>());
        return builder;
    }
}
