using System.Collections.Concurrent;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace AiSystem.SwarmCheck;

/// <summary>
/// `mqtt --host H --port P --ca-file F --master-password-file F --worker-password-file F --max-bytes N`: the broker's
/// published port as a stranger and as each role meets it. Plain MQTT (no TLS) gets nowhere; anonymous and wrong
/// passwords are refused; a worker reads only its own task topic and cannot publish a task; a publish over the size
/// limit is not delivered. Every refusal is set beside a control that must succeed, so a dead broker fails the check.
/// </summary>
public static class MqttCheck
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(CheckArgs args)
    {
        var host = args.Get("host");
        var port = args.Int("port");
        var ca = new StackCa(args.Get("ca-file"));
        var masterPassword = args.Secret("master-password-file");
        var workerPassword = args.Secret("worker-password-file");
        var maxBytes = args.Int("max-bytes");
        var v = new Verdicts("mqtt");
        var run = Guid.NewGuid().ToString("N")[..8];

        MqttClientOptionsBuilder Options(string clientId, string? user, string? password, bool tls = true,
            MqttProtocolVersion version = MqttProtocolVersion.V500)
        {
            var b = new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId(clientId).WithProtocolVersion(version)
                .WithCleanSession().WithTimeout(Patience);
            if (user is not null) b.WithCredentials(user, password);
            if (tls)
                b.WithTlsOptions(new MqttClientTlsOptions
                {
                    UseTls = true,
                    TargetHost = host,
                    CertificateValidationHandler = e => ca.TrustsServer(e.Certificate, e.SslPolicyErrors),
                });
            return b;
        }

        async Task<(IMqttClient? Client, string Outcome)> ConnectAsync(MqttClientOptionsBuilder options)
        {
            var client = new MqttClientFactory().CreateMqttClient();
            try
            {
                using var timeout = new CancellationTokenSource(Patience * 2);
                var result = await client.ConnectAsync(options.Build(), timeout.Token);
                if (result.ResultCode == MqttClientConnectResultCode.Success) return (client, "connected");
                client.Dispose();
                return (null, result.ResultCode.ToString());
            }
            catch (Exception e)
            {
                client.Dispose();
                return (null, $"{e.GetType().Name}: {e.Message}");
            }
        }

        // Connecting.
        var (plain, plainOutcome) = await ConnectAsync(Options($"swarmcheck-plain-{run}", "worker", workerPassword, tls: false));
        v.Expect(plain is null, "plain MQTT (no TLS) with the worker's own password is refused", plainOutcome);
        plain?.Dispose();
        var (anonymous, anonymousOutcome) = await ConnectAsync(Options($"swarmcheck-anon-{run}", null, null));
        v.Expect(anonymous is null, "an anonymous client over TLS is refused", anonymousOutcome);
        anonymous?.Dispose();
        var (wrong, wrongOutcome) = await ConnectAsync(Options($"swarmcheck-wrong-{run}", "worker", workerPassword + "x"));
        v.Expect(wrong is null, "the worker user with a wrong password is refused", wrongOutcome);
        wrong?.Dispose();
        var (swapped, swappedOutcome) = await ConnectAsync(Options($"swarmcheck-swap-{run}", "master", workerPassword));
        v.Expect(swapped is null, "the master user with the worker's password is refused (one password per role)", swappedOutcome);
        swapped?.Dispose();

        var workerId = $"swarmcheck-w1-{run}";
        var (worker, workerOutcome) = await ConnectAsync(Options(workerId, "worker", workerPassword));
        var (master, masterOutcome) = await ConnectAsync(Options($"swarmcheck-m-{run}", "master", masterPassword));
        v.Expect(worker is not null, "the worker user with its password connects over TLS (certificate checked against the stack's CA)", workerOutcome);
        v.Expect(master is not null, "the master user with its password connects over TLS", masterOutcome);
        if (worker is null || master is null) return v.ExitCode;

        var received = new ConcurrentQueue<(string Client, string Topic, int Bytes)>();
        void Record(IMqttClient client, string name) => client.ApplicationMessageReceivedAsync += e =>
        {
            received.Enqueue((name, e.ApplicationMessage.Topic, (int)e.ApplicationMessage.Payload.Length));
            return Task.CompletedTask;
        };
        Record(worker, "worker");
        Record(master, "master");

        // A worker's subscriptions. Mosquitto 2.0 may acknowledge a subscription its ACL does not allow; what counts is
        // that nothing is delivered on it. So the master publishes where the worker must not read, and where it may.
        var ownTopic = $"upb/workers/{workerId}/tasks";
        var otherTopic = $"upb/workers/swarmcheck-w2-{run}/tasks";
        v.Expect(IsGranted(await SubscribeAsync(worker, ownTopic)), $"a worker may subscribe to its own task topic ({ownTopic})");
        var suback = new List<string>();
        foreach (var topic in new[] { otherTopic, "upb/workers/+/tasks", "upb/logs" })
            suback.Add($"{topic}: {await SubscribeAsync(worker, topic)}");
        v.Expect(IsGranted(await SubscribeAsync(master, otherTopic)), "the master may subscribe to any task topic");
        v.Expect(IsGranted(await SubscribeAsync(master, "upb/logs")), "the master may read upb/logs");

        await master.PublishAsync(Message(otherTopic, "{\"from\":\"master\",\"for\":\"another worker\"}"));
        await master.PublishAsync(Message("upb/logs", $"{{\"timestamp\":{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()},\"source\":\"swarm-check\",\"message\":\"ACL probe\",\"level\":\"info\"}}"));
        await worker.PublishAsync(Message(otherTopic, "{\"forged\":true}"));
        await master.PublishAsync(Message(ownTopic, "{\"from\":\"master\"}"));
        v.Expect(await WaitAsync(() => received.Any(r => r.Client == "worker" && r.Topic == ownTopic)), "a task the master publishes reaches the worker it is for");
        v.Expect(await WaitAsync(() => received.Any(r => r.Client == "master" && r.Topic == "upb/logs")), "the master reads upb/logs");
        var leaked = await WaitAsync(() => received.Any(r => r.Client == "worker" && r.Topic != ownTopic));
        v.Expect(!leaked, "a worker subscribed to another worker's task topic, to upb/workers/+/tasks and to upb/logs receives nothing on them",
            leaked ? string.Join(", ", received.Where(r => r.Client == "worker" && r.Topic != ownTopic).Select(r => r.Topic).Distinct()) : "subacks: " + string.Join("; ", suback));
        var forged = received.Count(r => r.Client == "master" && r.Topic == otherTopic);
        v.Expect(forged == 1, "a task a worker publishes for another worker is not delivered (the master, subscribed to it, gets only its own)", $"{forged} delivered");

        // The size limit, on a topic of its own (MQTT 3.1.1: the client sends what it is given, the broker decides).
        var sizeTopic = $"upb/swarmcheck/{run}/size";
        v.Expect(IsGranted(await SubscribeAsync(master, sizeTopic)), "the master may subscribe to a check topic");
        var (sender, senderOutcome) = await ConnectAsync(Options($"swarmcheck-size-{run}", "master", masterPassword, version: MqttProtocolVersion.V311));
        v.Expect(sender is not null, "an MQTT 3.1.1 client of the master role connects", senderOutcome);
        if (sender is not null)
        {
            await sender.PublishAsync(Message(sizeTopic, new string('s', 1024)));
            v.Expect(await WaitAsync(() => received.Any(r => r.Topic == sizeTopic && r.Bytes == 1024)), "a 1 KB publish is delivered");
            var big = maxBytes + 64 * 1024;
            try { await sender.PublishAsync(Message(sizeTopic, new string('b', big))); }
            catch (Exception) { /* the broker may close the connection while it is being sent */ }
            var bigArrived = await WaitAsync(() => received.Any(r => r.Topic == sizeTopic && r.Bytes == big));
            v.Expect(!bigArrived, $"a {big / 1024} KB publish (limit {maxBytes / 1024} KB) is not delivered");
            v.Expect(await WaitAsync(() => !sender.IsConnected), "the broker closes the connection that sent it");
            sender.Dispose();
        }

        await worker.DisconnectAsync();
        await master.DisconnectAsync();
        worker.Dispose();
        master.Dispose();
        return v.ExitCode;
    }

    private static MqttApplicationMessage Message(string topic, string payload) => new MqttApplicationMessageBuilder()
        .WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes(payload)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();

    private static bool IsGranted(MqttClientSubscribeResultCode code) =>
        code is MqttClientSubscribeResultCode.GrantedQoS0 or MqttClientSubscribeResultCode.GrantedQoS1 or MqttClientSubscribeResultCode.GrantedQoS2;

    private static async Task<MqttClientSubscribeResultCode> SubscribeAsync(IMqttClient client, string topic)
    {
        var result = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(topic, MqttQualityOfServiceLevel.AtLeastOnce).Build());
        return result.Items.First().ResultCode;
    }

    /// <summary>Polls until <paramref name="condition"/> holds or <see cref="Patience"/> has passed.</summary>
    private static async Task<bool> WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(100);
        }
        return true;
    }
}
