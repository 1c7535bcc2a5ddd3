using Akka.Cluster.Hosting;
using Akka.Hosting;
using AiSystem.Master.Api;
using AiSystem.Master.Cluster;
using AiSystem.Master.Observability;
using AiSystem.Messages.Cluster;
using AiSystem.Messages.Configuration;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using AiSystem.Master.Configuration;
using AiSystem.Master.Dashboard;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Grpc;
using AiSystem.Master.Hubs;
using AiSystem.Master.Lifecycle;
using AiSystem.Master.LocalWorkers;
using AiSystem.Master.Mqtt;
using AiSystem.Master.Serialization;
using AiSystem.Master.Sessions;
using AiSystem.Messages.Mqtt;
using Microsoft.AspNetCore.Server.Kestrel.Core;

var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddSecretFiles();
var (master, mqtt, akka, persistence) = builder.AddMasterOptions();
var version = typeof(MasterOptions).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

// Two ports: the web page, SignalR and /api on one; gRPC without TLS needs an HTTP/2-only endpoint of its own.
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.ListenAnyIP(master.HttpPort, l => l.Protocols = HttpProtocols.Http1);
    kestrel.ListenAnyIP(master.GrpcPort, l => l.Protocols = HttpProtocols.Http2);
    // Each streamed answer holds one HTTP/2 stream while the model writes: let a worker with many slots keep them
    // all on one connection (its client opens more connections beyond this).
    kestrel.Limits.Http2.MaxStreamsPerConnection = 1024;
});

// Every component logs to the console and to upb/logs.
var logSink = new MqttLogSink("master");
builder.Logging.AddProvider(logSink);
builder.Services.AddSingleton(logSink);

// A frame over this is refused by closing that one connection; the process and every other session go on.
builder.Services.AddSignalR(o => o.MaximumReceiveMessageSize = 64 * 1024);
builder.Services.AddGrpc();
builder.Services.AddSingleton<ChatConnections>();
builder.Services.AddSingleton(sp => new ClientLimits(sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<LimitsOptions>>(), TimeProvider.System));
builder.Services.AddSingleton<IBrowserPush, SignalRBrowserPush>();

builder.Services.AddSingleton(sp =>
{
    var metrics = new MasterMetrics();
    metrics.ObserveJournal(() => sp.GetService<AiSystem.Master.Persistence.JournalHealth>());
    return metrics;
});
var journal = PersistenceHosting.Resolve(persistence, builder.Environment.ContentRootPath);
builder.Services.AddJournalServices(journal);
// The masters' shared secret (resume tokens, assignment aliases): Security__Secret, or kept in the journal's database.
builder.Services.AddSingleton(AiSystem.Master.Security.MasterKeyStore.Load(builder.Configuration["Security:Secret"], journal,
    warning => Console.Error.WriteLine($"warn: {warning}"), TimeSpan.FromSeconds(60)));
builder.Services.AddAkka(AkkaOptions.SystemName, b => b
    // The host stops the actor system after draining; Akka must not stop it first on SIGTERM.
    .AddHocon("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off", HoconAddMode.Prepend)
    .WithAiCluster(akka, ClusterRoles.Master, version, [ClusterRoles.GrpcEndpoint(master.EffectivePublicGrpcEndpoint)])
    .WithCustomSerializer("aisystem", [typeof(IJournalRecord), typeof(IClusterMessage)], system => new AiSerializer(system))
    .WithAiPersistence(journal)
    .WithActorSystemLivenessCheck(tags: [HealthTags.Live])
    .WithAkkaClusterReadinessCheck(tags: [HealthTags.Ready])
    .AddBrowserPushActor()
    .AddSessionSharding()
    .AddDispatcherSingleton()
    .AddClusterEventsActor()
    .AddDashboardActor());

// Health: live = the actor system runs; ready = broker connected, gRPC listening, in the cluster, the dispatcher
// answering, the journal working.
builder.Services.AddHealthChecks()
    .AddCheck<MqttHealthCheck>("mqtt", tags: [HealthTags.Ready])
    .AddCheck<GrpcHealthCheck>("grpc", tags: [HealthTags.Ready])
    .AddCheck<DispatcherHealthCheck>("dispatcher", tags: [HealthTags.Ready])
    .AddCheck<JournalHealthCheck>("journal", tags: [HealthTags.Ready]);
builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeter(MasterMetrics.MeterName).AddPrometheusExporter());

if (string.IsNullOrEmpty(mqtt.Host))
{
    builder.Services.AddSingleton<EmbeddedBroker>();
    builder.Services.AddHostedService(sp => sp.GetRequiredService<EmbeddedBroker>());
}
builder.Services.AddSingleton<MasterMqttBridge>();
builder.Services.AddSingleton<ITaskPublisher>(sp => sp.GetRequiredService<MasterMqttBridge>());
builder.Services.AddHostedService(sp => sp.GetRequiredService<MasterMqttBridge>());
builder.Services.AddHostedService<LocalWorkersService>();
builder.Services.AddDashboard();
builder.Services.AddSingleton<MasterLifecycle>();
builder.Services.AddSingleton<MasterDrain>();
builder.Services.AddSingleton<IHostLifetime, DrainingLifetime>(); // SIGTERM drains first, then stops
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = master.DrainTimeout + TimeSpan.FromSeconds(15));

var app = builder.Build();

// The page's files only on the web port: every result a worker sends would otherwise look for a file first.
app.UseWhen(ctx => ctx.Connection.LocalPort != master.GrpcPort, web => web.UseDefaultFiles().UseStaticFiles());
app.MapHub<ChatHub>("/hubs/chat");
app.MapGrpcService<WorkerCallbackService>(); // answers only on the HTTP/2 port: the web port speaks HTTP/1.1
app.MapOperatorApi();
app.MapDashboard();
app.MapHealthChecks("/healthz/live", new HealthCheckOptions { Predicate = r => r.Tags.Contains(HealthTags.Live) });
app.MapHealthChecks("/healthz/ready", new HealthCheckOptions { Predicate = r => r.Tags.Contains(HealthTags.Ready) });
app.MapPrometheusScrapingEndpoint("/metrics");

app.Logger.LogInformation("AiSystem master {Version}: web on port {HttpPort}, gRPC on port {GrpcPort}, MQTT {Broker}, cluster {Address}, {LocalWorkers} local worker(s)",
    version, master.HttpPort, master.GrpcPort, string.IsNullOrEmpty(mqtt.Host) ? $"embedded broker on port {mqtt.Port}" : $"{mqtt.Host}:{mqtt.Port}",
    AkkaOptions.AddressOf(akka.Hostname, akka.EffectivePort(ClusterRoles.Master)), master.LocalWorkers);
app.Run();
