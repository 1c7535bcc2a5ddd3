using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using AiSystem.Integration.Tests.Infrastructure;
using MQTTnet;

namespace AiSystem.Integration.Tests.Security;

/// <summary>One master on its embedded broker, one real worker process, one browser: the system under attack.</summary>
public sealed class BrokerFixture : IAsyncLifetime
{
    public const string WorkerId = "broker-worker";
    public MasterProcess Master { get; private set; } = null!;
    public ChildProcess Worker { get; private set; } = null!;
    public ChatClient Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Master = await MasterProcess.StartAsync(null, localWorkers: 0);
        Worker = Master.StartWorker(WorkerId);
        await Master.WaitForWorkersAsync(1);
        Browser = await ChatClient.ConnectAsync(Master.BaseUrl);
    }

    public async Task DisposeAsync()
    {
        await Browser.DisposeAsync();
        await Worker.DisposeAsync();
        await Master.DisposeAsync();
    }

    /// <summary>A real question, answered by the real worker.</summary>
    public async Task AssertAnsweredAsync(string question)
    {
        var answer = await Browser.AskAsync(question, TimeSpan.FromSeconds(30));
        Assert.Equal(WorkerId, answer.Str("workerId"));
        Assert.Contains(question, answer.Str("response"));
    }
}

/// <summary>
/// Issue 14 on the embedded broker: anonymous clients on loopback get in, but only as themselves (identity = client
/// id). Each attack must fail while real work goes on.
/// </summary>
public sealed class BrokerAttackTests(BrokerFixture system) : IClassFixture<BrokerFixture>
{
    private const string Tasks = "upb/workers/+/tasks";

    private async Task<MqttSpy> SpyAsync(string clientId)
    {
        var (code, spy) = await MqttSpy.ConnectAsync("127.0.0.1", system.Master.MqttPort, clientId);
        Assert.Equal(MqttClientConnectResultCode.Success, code); // anonymous on loopback: allowed, as old workers expect
        return spy!;
    }

    [Fact]
    public async Task A_sniffer_may_not_subscribe_to_tasks_and_sees_no_question()
    {
        await using var sniffer = await SpyAsync("sniffer");
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await sniffer.SubscribeAsync(Tasks));
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await sniffer.SubscribeAsync("#"));
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await sniffer.SubscribeAsync("upb/#"));
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await sniffer.SubscribeAsync($"upb/workers/{BrokerFixture.WorkerId}/tasks"));
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await sniffer.SubscribeAsync("upb/workers/sniffer/tasks")); // its own
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await sniffer.SubscribeAsync("upb/logs"));

        await system.AssertAnsweredAsync("Sniffed question 7d1c?");
        Assert.DoesNotContain(sniffer.Received, m => m.Topic.EndsWith("/tasks") || m.Payload.Contains("Sniffed question 7d1c"));
    }

    [Fact]
    public async Task A_fake_worker_cannot_register_another_id_nor_evict_a_real_worker()
    {
        await using var intruder = await SpyAsync("intruder");
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, await intruder.PublishAsync("upb/workers/register",
            $$"""{"worker_id":"fake-worker","language":"CSharp","status":"idle","timestamp":{{now}},"capacity":1024}"""));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, await intruder.PublishAsync("upb/workers/status",
            $$"""{"worker_id":"{{BrokerFixture.WorkerId}}","status":"offline","timestamp":{{now}}}"""));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, await intruder.PublishAsync("upb/workers/heartbeat",
            $$"""{"worker_id":"{{BrokerFixture.WorkerId}}","status":"idle","timestamp":{{now}},"active_tasks":0,"capacity":1024,"tasks_completed":0}"""));
        // And as a last will: the broker publishes it on the intruder's behalf, still under the intruder's identity.
        var (accepted, dying) = await RawMqtt.ConnectAsync(system.Master.MqttPort, "dying-intruder", "upb/workers/status",
            $$"""{"worker_id":"{{BrokerFixture.WorkerId}}","status":"offline","timestamp":{{now}}}""");
        Assert.Equal(0, accepted);
        dying.Dispose(); // no DISCONNECT: the broker publishes the will
        await Poll.UntilAsync(() => system.Master.Process.CountLines("from client dying-intruder claiming to be worker broker-worker") == 1,
            TimeSpan.FromSeconds(15), "the forged last will dropped", () => system.Master.Process.Tail());

        await system.AssertAnsweredAsync("Still answered after the forgeries?");
        var workers = await system.Master.WorkersAsync();
        var real = Assert.Single(workers);
        Assert.Equal(BrokerFixture.WorkerId, real.Str("id"));
        Assert.NotEqual("offline", real.Str("status"));
        Assert.Equal(1, system.Master.Process.CountLines("from client intruder claiming to be worker fake-worker"));
    }

    [Fact]
    public async Task A_forged_task_never_reaches_the_worker()
    {
        // Were the worker to run it, it would call this endpoint back with the result.
        var callback = new TcpListener(IPAddress.Loopback, 0);
        callback.Start();
        var called = false;
        _ = Task.Run(async () => { try { using var _ = await callback.AcceptTcpClientAsync(); called = true; } catch (Exception) { } });
        try
        {
            await using var forger = await SpyAsync("forger");
            var taskId = Guid.NewGuid().ToString();
            var endpoint = $"127.0.0.1:{((IPEndPoint)callback.LocalEndpoint).Port}";
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, await forger.PublishAsync($"upb/workers/{BrokerFixture.WorkerId}/tasks",
                $$"""{"worker_id":"{{BrokerFixture.WorkerId}}","session_id":"s","query":"forged","api_key":"","grpc_endpoint":"{{endpoint}}","timestamp":1,"task_id":"{{taskId}}","attempt":1}"""));

            await system.AssertAnsweredAsync("A real task after the forged one?"); // the worker took tasks after it
            Assert.False(called, "the worker ran the forged task");
            Assert.Equal(0, system.Worker.CountLines(taskId));
        }
        finally
        {
            callback.Stop();
        }
    }

    [Fact]
    public async Task A_200_MB_publish_closes_its_connection_unread_and_the_master_keeps_answering()
    {
        var before = RssKb(system.Master.Process.Pid);
        const int size = 200 * 1024 * 1024;
        var (accepted, tcp) = await RawMqtt.ConnectAsync(system.Master.MqttPort, "big-sender");
        using var _ = tcp;
        Assert.Equal(0, accepted);
        var stream = tcp.GetStream();
        var header = new List<byte>(RawMqtt.Header(0x30, size + 2 + "upb/logs".Length));
        RawMqtt.Str(header, "upb/logs");
        var sent = 0L;
        var closed = false;
        try
        {
            await stream.WriteAsync(header.ToArray());
            var chunk = new byte[64 * 1024];
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (sent < size)
            {
                await stream.WriteAsync(chunk, deadline.Token);
                sent += chunk.Length;
            }
        }
        catch (IOException) { closed = true; }
        catch (SocketException) { closed = true; }
        Assert.True(closed, "the broker read the whole 200 MB publish");
        Assert.True(sent < size / 2, $"{sent} bytes were sent before the broker closed the connection");

        await system.AssertAnsweredAsync("Answered after the 200 MB publish?");
        Assert.False(system.Master.Process.HasExited);
        var after = RssKb(system.Master.Process.Pid);
        Assert.True(after - before < 100 * 1024, $"the master's resident memory grew from {before} kB to {after} kB");
        Assert.Contains("closed the connection from", system.Master.Process.Output);
    }

    private static long RssKb(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
}

/// <summary>With <c>Mqtt__Username</c>/<c>Mqtt__Password</c>: workers prove who they are; wrong credentials stay out.</summary>
public sealed class BrokerCredentialsTests : IAsyncLifetime
{
    private const string User = "workers", Password = "s3cret-broker-pass";
    private MasterProcess _master = null!;
    private ChildProcess _worker = null!;

    public async Task InitializeAsync()
    {
        _master = await MasterProcess.StartAsync(null, localWorkers: 0, new Dictionary<string, string?>
        {
            ["Mqtt__Username"] = User,
            ["Mqtt__Password"] = Password,
            ["Network__Workers"] = "any", // so a connection can come from a non-loopback address of this machine
            ["Admin__Token"] = "broker-test-admin-token", // required then (else one is made and printed)
        });
        _master.Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "broker-test-admin-token");
        _worker = _master.StartWorker("cred-worker", new Dictionary<string, string?> { ["Mqtt__Username"] = User, ["Mqtt__Password"] = Password });
        await _master.WaitForWorkersAsync(1);
    }

    public async Task DisposeAsync()
    {
        await _worker.DisposeAsync();
        await _master.DisposeAsync();
    }

    [Fact]
    public async Task Wrong_credentials_are_refused_right_ones_make_a_worker_whose_own_will_counts()
    {
        var port = _master.MqttPort;
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, (await MqttSpy.ConnectAsync("127.0.0.1", port, "w1", User, "wrong")).Code);
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, (await MqttSpy.ConnectAsync("127.0.0.1", port, "w2", "nobody", Password)).Code);
        var (anonymous, anonymousSpy) = await MqttSpy.ConnectAsync("127.0.0.1", port, "old-python-worker");
        Assert.Equal(MqttClientConnectResultCode.Success, anonymous); // loopback: original workers keep working
        await anonymousSpy!.DisposeAsync();

        // Off loopback an anonymous client is refused, a credentialed one is not.
        if (NonLoopbackAddress() is { } address)
        {
            Assert.Equal(MqttClientConnectResultCode.NotAuthorized, (await MqttSpy.ConnectAsync(address.ToString(), port, "remote-anon")).Code);
            var (remote, remoteSpy) = await MqttSpy.ConnectAsync(address.ToString(), port, "remote-worker", User, Password);
            Assert.Equal(MqttClientConnectResultCode.Success, remote);
            await remoteSpy!.DisposeAsync();
        }

        // A credentialed client is a worker, as itself: it registers, and its last will takes it out again.
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var (code, willWorker) = await RawMqtt.ConnectAsync(port, "will-worker", "upb/workers/status",
            $$"""{"worker_id":"will-worker","status":"offline","timestamp":{{now}}}""", User, Password);
        Assert.Equal(0, code);
        using (willWorker)
        {
            await RawMqtt.PublishAsync(willWorker, "upb/workers/register",
                $$"""{"worker_id":"will-worker","language":"CSharp","status":"idle","timestamp":{{now}},"capacity":1}""");
            await Poll.UntilAsync(async () => (await _master.WorkersAsync()).Any(w => w.Str("id") == "will-worker" && w.Str("status") != "offline"),
                TimeSpan.FromSeconds(15), "the credentialed worker registered", () => _master.Process.Tail());
        } // closed without a DISCONNECT: the broker publishes its will
        await Poll.UntilAsync(async () => (await _master.WorkersAsync()).All(w => w.Str("id") != "will-worker" || w.Str("status") == "offline"),
            TimeSpan.FromSeconds(15), "its last will took it out", () => _master.Process.Tail());

        await using var browser = await ChatClient.ConnectAsync(_master.BaseUrl);
        var answer = await browser.AskAsync("Answered with credentials?", TimeSpan.FromSeconds(30));
        Assert.Equal("cred-worker", answer.Str("workerId"));
        Assert.DoesNotContain(Password, _master.Process.Output);
    }

    private static IPAddress? NonLoopbackAddress() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
}
