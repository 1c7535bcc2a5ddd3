using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Configuration;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Grpc;
using AiSystem.Master.Hubs;
using AiSystem.Master.Lifecycle;
using AiSystem.Master.LocalWorkers;
using AiSystem.Master.Mqtt;
using AiSystem.Master.Sessions;
using AiSystem.Messages.Mqtt;
using Microsoft.AspNetCore.Server.Kestrel.Core;

var builder = WebApplication.CreateBuilder(args);
var (master, mqtt) = builder.AddMasterOptions();

// Two ports: the web page, SignalR and /api on one; gRPC without TLS needs an HTTP/2-only endpoint of its own.
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.ListenAnyIP(master.HttpPort, l => l.Protocols = HttpProtocols.Http1);
    kestrel.ListenAnyIP(master.GrpcPort, l => l.Protocols = HttpProtocols.Http2);
});

// Every component logs to the console and to upb/logs.
var logSink = new MqttLogSink("master");
builder.Logging.AddProvider(logSink);
builder.Services.AddSingleton(logSink);

// A frame over this is refused by closing that one connection; the process and every other session go on.
builder.Services.AddSignalR(o => o.MaximumReceiveMessageSize = 64 * 1024);
builder.Services.AddGrpc();
builder.Services.AddSingleton<IBrowserPush, SignalRBrowserPush>();

builder.Services.AddAkka("ai-system", b => b
    // The host stops the actor system after draining; Akka must not stop it first on SIGTERM.
    .AddHocon("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off", HoconAddMode.Prepend)
    .AddSessionManagerActor()
    .AddDispatcherActor());

if (string.IsNullOrEmpty(mqtt.Host))
    builder.Services.AddHostedService<EmbeddedBroker>();
builder.Services.AddSingleton<MasterMqttBridge>();
builder.Services.AddSingleton<ITaskPublisher>(sp => sp.GetRequiredService<MasterMqttBridge>());
builder.Services.AddHostedService(sp => sp.GetRequiredService<MasterMqttBridge>());
builder.Services.AddHostedService<LocalWorkersService>();
builder.Services.AddSingleton<MasterLifecycle>();
builder.Services.AddSingleton<MasterDrain>();
builder.Services.AddSingleton<IHostLifetime, DrainingLifetime>(); // SIGTERM drains first, then stops
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = master.DrainTimeout + TimeSpan.FromSeconds(15));

var app = builder.Build();

app.UseDefaultFiles();
app.UseStaticFiles();
app.MapHub<ChatHub>("/hubs/chat");
app.MapGrpcService<WorkerCallbackService>(); // answers only on the HTTP/2 port: the web port speaks HTTP/1.1
app.MapGet("/api/workers", async (IRequiredActor<DispatcherActor> dispatcher) =>
    (await dispatcher.ActorRef.Ask<DispatchSnapshot>(GetDispatchSnapshot.Instance, TimeSpan.FromSeconds(5))).Workers);
app.MapGet("/api/tasks", async (IRequiredActor<DispatcherActor> dispatcher) =>
    (await dispatcher.ActorRef.Ask<DispatchSnapshot>(GetDispatchSnapshot.Instance, TimeSpan.FromSeconds(5))).Tasks);

app.Logger.LogInformation("AiSystem master: web on port {HttpPort}, gRPC on port {GrpcPort}, MQTT {Broker}, {LocalWorkers} local worker(s)",
    master.HttpPort, master.GrpcPort, string.IsNullOrEmpty(mqtt.Host) ? $"embedded broker on port {mqtt.Port}" : $"{mqtt.Host}:{mqtt.Port}",
    master.LocalWorkers);
app.Run();
