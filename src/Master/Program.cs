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
using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddSecretFiles();
MasterOptions master; MqttOptions mqtt; AkkaOptions akka; PersistenceOptions persistence; ListenPolicy listen; MasterTls tls;
try
{
    (master, mqtt, akka, persistence, listen, tls) = builder.AddMasterOptions();
}
catch (OptionsValidationException e)
{
    // One clear line for the operator, no stack trace: the message names the settings to fix.
    Console.Error.WriteLine($"AiSystem master cannot start: {e.Message}");
    return 2;
}
var version = typeof(MasterOptions).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

// Two ports: the web page, SignalR and /api on one; gRPC without TLS needs an HTTP/2-only endpoint of its own.
// Each on loopback unless Network__Web / Network__Workers open it (ListenPolicy); both HTTPS only with Master__Https.
builder.WebHost.ConfigureKestrel(kestrel =>
{
    Listen(kestrel, listen.WebAddress, master.HttpPort, HttpProtocols.Http1, tls.HttpsCertificate);
    Listen(kestrel, listen.WorkersAddress, master.GrpcPort, HttpProtocols.Http2, tls.HttpsCertificate);
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
    .WithAiCluster(akka, ClusterRoles.Master, version, [ClusterRoles.GrpcEndpoint(master.EffectivePublicGrpcEndpoint)], listen.WorkersAddress, tls.Remoting)
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

// Headers and the page's files only on the web port: every result a worker sends would otherwise pay for both.
app.UseWhen(ctx => ctx.Connection.LocalPort != master.GrpcPort, web => web.UseSecurityHeaders());
app.UseAdminTokenOnMetricsAndDashboard();
app.UseWhen(ctx => ctx.Connection.LocalPort != master.GrpcPort, web => web.UseDefaultFiles().UseStaticFiles());
app.MapHub<ChatHub>("/hubs/chat");
app.MapGrpcService<WorkerCallbackService>(); // answers only on the HTTP/2 port: the web port speaks HTTP/1.1
app.MapOperatorApi();
app.MapDashboard();
app.MapHealthChecks("/healthz/live", new HealthCheckOptions { Predicate = r => r.Tags.Contains(HealthTags.Live) });
app.MapHealthChecks("/healthz/ready", new HealthCheckOptions { Predicate = r => r.Tags.Contains(HealthTags.Ready) });
app.MapPrometheusScrapingEndpoint("/metrics");

var scheme = master.Https ? "https" : "http";
app.Logger.LogInformation("AiSystem master {Version}: web on {Web}, gRPC on {Grpc}, MQTT {Broker}, cluster {Address} (bound to {AkkaBind}{AkkaTls}), {LocalWorkers} local worker(s)",
    version, ListenPolicy.Describe(listen.WebAddress, master.HttpPort) + (master.Https ? " over HTTPS" : ""),
    ListenPolicy.Describe(listen.WorkersAddress, master.GrpcPort) + (master.Https ? " over HTTPS" : ""),
    string.IsNullOrEmpty(mqtt.Host) ? $"embedded broker on {ListenPolicy.Describe(listen.WorkersAddress, mqtt.Port)}" : $"{mqtt.Host}:{mqtt.Port}{(mqtt.Tls ? " over TLS" : "")}",
    akka.Address(akka.Hostname, akka.EffectivePort(ClusterRoles.Master)), listen.WorkersAddress,
    tls.Remoting is null ? "" : $", mutual TLS as {tls.Remoting.Subject}", master.LocalWorkers);
if (listen.TokenGenerated)
{
    // The console only, never ILogger: the log providers forward every line to upb/logs (MqttLogSink).
    app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine(
        "No Admin__Token configured and listening beyond loopback: generated one for this run. Open the dashboard once with:\n" +
        $"    {listen.LoginUrl(listen.LoginHost(Dns.GetHostName()), master.HttpPort, scheme)}"));
}
app.Run();
return 0;

static void Listen(KestrelServerOptions kestrel, IPAddress address, int port, HttpProtocols protocols,
    System.Security.Cryptography.X509Certificates.X509Certificate2? https)
{
    void Configure(ListenOptions l)
    {
        l.Protocols = protocols;
        if (https is not null) l.UseHttps(https);
    }
    if (address.Equals(IPAddress.Any)) kestrel.ListenAnyIP(port, Configure);
    else kestrel.Listen(address, port, Configure);
}
