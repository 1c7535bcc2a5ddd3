using System.Text;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace AiSystem.Ctl.Tests;

/// <summary>'aictl logs' against a real (in-process MQTTnet) broker.</summary>
public sealed class LogsCommandTests : IAsyncLifetime
{
    private readonly int _port = FreePort.Get();
    private MqttServer _broker = null!;
    private readonly TaskCompletionSource<string> _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task InitializeAsync()
    {
        var options = new MqttServerOptionsBuilder().WithDefaultEndpoint().WithDefaultEndpointPort(_port).Build();
        _broker = new MqttServerFactory().CreateMqttServer(options);
        _broker.ValidatingConnectionAsync += e =>
        {
            if (e.UserName == "intruder") e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
            return Task.CompletedTask;
        };
        _broker.ClientSubscribedTopicAsync += e =>
        {
            _subscribed.TrySetResult(e.TopicFilter.Topic);
            return Task.CompletedTask;
        };
        await _broker.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _broker.StopAsync();
        _broker.Dispose();
    }

    private Task Publish(string topic, string payload) =>
        _broker.InjectApplicationMessage(new InjectedMqttApplicationMessage(
            new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes(payload)).Build())
        { SenderClientId = "test" });

    [Fact]
    public async Task Prints_the_lines_that_pass_the_filters_and_skips_malformed_ones()
    {
        var run = Aictl.RunAsync(["logs", "--broker", $"127.0.0.1:{_port}", "--duration", "2s", "--level", "info", "--source", "csharp-worker"]);
        Assert.Equal("upb/logs", await _subscribed.Task.WaitAsync(TimeSpan.FromSeconds(10)));

        await Publish("upb/logs", """{"timestamp":1764260000123,"source":"csharp-worker-1","message":"Task t-1 started","level":"info","task_id":"t-1"}""");
        await Publish("upb/logs", "garbage {");
        await Publish("upb/logs", """{"source":"csharp-worker-1","message":"no timestamp"}""");
        await Publish("upb/logs", """{"timestamp":1764260000200,"source":"csharp-worker-1","message":"too quiet","level":"debug"}""");
        await Publish("upb/logs", """{"timestamp":1764260000300,"source":"master","message":"other source","level":"error"}""");
        await Publish("upb/logs", """{"timestamp":1764260000400,"source":"csharp-worker-2","message":"Gemini is overloaded","level":"warning"}""");
        await Publish("other/logs", """{"timestamp":1764260000500,"source":"csharp-worker-1","message":"other prefix","level":"error"}""");

        var (exit, stdout, stderr) = await run;
        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        Assert.Equal(
        [
            "16:13:20.123 INFO  csharp-worker-1: Task t-1 started [task t-1]",
            "16:13:20.400 WARN  csharp-worker-2: Gemini is overloaded",
        ], Aictl.Lines(stdout));
    }

    [Fact]
    public async Task Follow_with_json_and_a_topic_prefix_runs_until_ctrl_c()
    {
        using var ctrlC = new CancellationTokenSource();
        var run = Aictl.RunAsync(["logs", "-f", "--json", "--broker", $"127.0.0.1:{_port}", "--topic-prefix", "lab", "--duration", "100ms"], ct: ctrlC.Token);
        Assert.Equal("lab/logs", await _subscribed.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await Task.Delay(300); // longer than --duration: -f ignores it
        await Publish("lab/logs", """{"timestamp":1764260000123,"source":"master","message":"hello","level":"info","extra":1}""");
        await Task.Delay(300);
        ctrlC.Cancel();

        var (exit, stdout, stderr) = await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        Assert.Equal("""{"timestamp":1764260000123,"source":"master","message":"hello","level":"info"}""", Assert.Single(Aictl.Lines(stdout)));
    }

    [Fact]
    public async Task A_refused_login_says_to_set_the_mqtt_credentials()
    {
        var (exit, _, stderr) = await Aictl.RunAsync(["logs", "--broker", $"127.0.0.1:{_port}", "--mqtt-user", "intruder", "--mqtt-password", "x"]);
        Assert.Equal(1, exit);
        Assert.StartsWith($"aictl: the MQTT broker at 127.0.0.1:{_port} refused the login (", stderr);
        Assert.EndsWith("): set --mqtt-user and --mqtt-password.", stderr.TrimEnd());
    }
}
