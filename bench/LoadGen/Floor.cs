using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using AiSystem.Messages.Grpc;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;

namespace AiSystem.LoadGen;

/// <summary>A hub that only echoes: SignalR with no logic behind it.</summary>
public sealed class EchoHub : Hub
{
    public string Echo(string text) => text;
}

/// <summary>The gRPC callback of protos/worker.proto with no logic behind it.</summary>
public sealed class EchoCallback : WorkerCallback.WorkerCallbackBase
{
    private static readonly ResultAck Ack = new() { Success = true };
    public override Task<ResultAck> SendResult(TaskResult request, ServerCallContext context) => Task.FromResult(Ack);
}

/// <summary>
/// Scenario 2, the transport floor: each hop a question takes, with no logic. A SignalR round trip (WebSockets,
/// like the browsers), an MQTT QoS 1 publish→receive through the benchmark's Mosquitto (like a task to a worker),
/// a gRPC unary call over h2c (like a worker's result). Servers are ASP.NET Core Kestrel in this process.
/// </summary>
public static class Floor
{
    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static async Task<Dictionary<string, object>> Run(string mqttHost, int mqttPort, int count)
    {
        var (httpPort, grpcPort) = (FreePort(), FreePort());
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, httpPort, o => o.Protocols = HttpProtocols.Http1);
            k.Listen(IPAddress.Loopback, grpcPort, o => o.Protocols = HttpProtocols.Http2);
        });
        builder.Services.AddSignalR();
        builder.Services.AddGrpc();
        await using var app = builder.Build();
        app.UseWebSockets();
        app.MapHub<EchoHub>("/echo");
        app.MapGrpcService<EchoCallback>();
        await app.StartAsync();

        var signalR = await SignalREcho(httpPort, count);
        Console.Error.WriteLine($"  floor: SignalR echo p50 {signalR["p50_ms"]} ms");
        var mqtt = await MqttPublishReceive(mqttHost, mqttPort, count);
        Console.Error.WriteLine($"  floor: MQTT publish→receive p50 {mqtt["p50_ms"]} ms");
        var grpc = await GrpcUnary(grpcPort, count);
        Console.Error.WriteLine($"  floor: gRPC unary p50 {grpc["p50_ms"]} ms");
        await app.StopAsync();
        double Sum(string key) => Math.Round((double)signalR[key] + (double)mqtt[key] + (double)grpc[key], 3);
        return new Dictionary<string, object>
        {
            ["scenario"] = "floor",
            ["signalr_echo"] = signalR,
            ["mqtt_publish_receive"] = mqtt,
            ["grpc_unary"] = grpc,
            ["sum_p50_ms"] = Sum("p50_ms"),
            ["sum_p99_ms"] = Sum("p99_ms"),
            ["sum_p999_ms"] = Sum("p999_ms"),
        };
    }

    private static async Task<Dictionary<string, object>> Measure(int count, Func<int, Task> once)
    {
        for (var i = 0; i < Math.Min(200, count); i++) await once(-i - 1); // warm-up
        var h = Stats.NewHistogram();
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await once(i);
            h.RecordValue(Stopwatch.GetTimestamp() - start);
        }
        var result = Stats.Percentiles(h);
        result["percentile_curve"] = Stats.PercentileCurve(h);
        return result;
    }

    private static async Task<Dictionary<string, object>> SignalREcho(int port, int count)
    {
        await using var connection = new HubConnectionBuilder()
            .WithUrl($"http://127.0.0.1:{port}/echo", HttpTransportType.WebSockets, o => o.SkipNegotiation = true).Build();
        await connection.StartAsync();
        return await Measure(count, async i => await connection.InvokeAsync<string>("Echo", $"latency question {i}"));
    }

    private static async Task<Dictionary<string, object>> MqttPublishReceive(string host, int port, int count)
    {
        var factory = new MqttClientFactory();
        using var publisher = factory.CreateMqttClient();
        using var subscriber = factory.CreateMqttClient();
        // The master's broker lets a client without credentials subscribe to its own task topic and the logs only
        // (issue 14), so the probe rides on upb/logs, recognised by a marker among the master's own log lines.
        const string topic = "upb/logs";
        var marker = $"bench-floor-{Guid.NewGuid():N}";
        var markerBytes = System.Text.Encoding.UTF8.GetBytes(marker);
        TaskCompletionSource? waiting = null;
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            var payload = e.ApplicationMessage.Payload;
            ReadOnlySpan<byte> bytes = payload.IsSingleSegment ? payload.FirstSpan : System.Buffers.BuffersExtensions.ToArray(payload);
            if (bytes.IndexOf(markerBytes) >= 0) Volatile.Read(ref waiting)?.TrySetResult();
            return Task.CompletedTask;
        };
        MqttClientOptions Options(string id) => new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId(id)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).Build();
        await subscriber.ConnectAsync(Options($"bench-floor-sub-{Guid.NewGuid():N}"));
        await subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(topic, MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await publisher.ConnectAsync(Options($"bench-floor-pub-{Guid.NewGuid():N}"));
        // About the size of a task message: ids, query, grpc endpoint, timestamps.
        var payload = System.Text.Encoding.UTF8.GetBytes(
            "{\"marker\":\"" + marker + "\",\"task_id\":\"0123456789abcdef0123456789abcdef\",\"session_id\":\"0123456789abcdef0123456789abcdef\"," +
            "\"query\":\"latency question 1234\",\"api_key\":\"\",\"grpc_endpoint\":\"127.0.0.1:50051\",\"timestamp\":1764270000000}");
        var result = await Measure(count, async _ =>
        {
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref waiting, tcs);
            await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            await tcs.Task.WaitAsync(TimeSpan.FromSeconds(10));
        });
        await publisher.DisconnectAsync();
        await subscriber.DisconnectAsync();
        return result;
    }

    private static async Task<Dictionary<string, object>> GrpcUnary(int port, int count)
    {
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        var client = new WorkerCallback.WorkerCallbackClient(channel);
        return await Measure(count, async i => await client.SendResultAsync(new TaskResult
        {
            WorkerId = "bench-worker-1", SessionId = "0123456789abcdef0123456789abcdef", TaskId = "0123456789abcdef0123456789abcdef",
            OriginalQuery = $"latency question {i}", AiResponse = $"Simulated answer to: latency question {i}",
            ProcessingTimeMs = 0, QueryTimestamp = 1764270000000, CompletionTimestamp = 1764270000001, Provider = "simulated",
        }));
    }
}
