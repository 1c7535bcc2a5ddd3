using System.Buffers;
using System.Text;
using AiSystem.Messages;

namespace AiSystem.Ctl.Tests;

public class ApiJsonTests
{
    [Fact]
    public void Parses_the_cluster_answer()
    {
        var state = ApiJson.ParseCluster(Canned.Cluster);
        Assert.Equal("akka.tcp://ai-system@localhost:4053", state.Leader);
        Assert.Equal(3, state.Members.Count);
        var worker = state.Members[0];
        Assert.Equal(["worker"], worker.Roles);
        Assert.True(worker.IsUnreachable);
        Assert.Equal(3, worker.UpNumber);
        Assert.Null(state.Members[2].AppVersion);
        Assert.Null(ApiJson.ParseCluster(Canned.ClusterNoLeader).Leader);
    }

    [Fact]
    public void Parses_workers_and_tasks()
    {
        var workers = ApiJson.ParseWorkers(Canned.Workers);
        Assert.Equal("csharp-worker-1a2b3c4d", workers[0].Id);
        Assert.Equal(new DateTimeOffset(2025, 11, 27, 16, 13, 31, 600, TimeSpan.Zero), workers[0].LastSeen);
        Assert.Null(workers[1].ClusterAddress);

        var tasks = ApiJson.ParseTasks(Canned.Tasks);
        Assert.True(tasks[0].IsInFlight);
        Assert.True(tasks[1].IsQueued);
        Assert.Equal(1, tasks[1].Position);
        Assert.Null(tasks[1].AssignedAt);
        Assert.Equal(Canned.T0, tasks[0].Timestamp);
    }

    [Fact]
    public void Ignores_fields_it_does_not_know()
    {
        var state = ApiJson.ParseCluster("""{"leader":null,"members":[],"future":{"x":1}}""");
        Assert.Empty(state.Members);
    }

    [Theory]
    [InlineData("<html>not json</html>")]
    [InlineData("null")]
    [InlineData("""{"members":[{"roles":["worker"]}]}""")]
    [InlineData("""{"members":"many"}""")]
    public void An_answer_it_does_not_understand_is_a_clear_error(string json)
    {
        var e = Assert.Throws<CtlException>(() => ApiJson.ParseCluster(json));
        Assert.StartsWith("the master's answer to GET /api/cluster is not what aictl understands (", e.Message);
        Assert.EndsWith("Is --master an AiSystem master of the same version?", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Reads_error_bodies()
    {
        Assert.Equal("no such member", ApiJson.TryParseError("""{"error":"no such member"}"""));
        Assert.Null(ApiJson.TryParseError("""{"error":""}"""));
        Assert.Null(ApiJson.TryParseError("Bad Request"));
        Assert.Null(ApiJson.TryParseError(""));
    }

    [Fact]
    public void Writes_camel_case_json()
    {
        Assert.Equal("""{"leader":null}""", ApiJson.Serialize(new LeaderOutput(null)));
        Assert.Equal("""[{"address":"a","action":"down"}]""", ApiJson.Serialize([new MemberActionResponse { Address = "a", Action = "down" }]));
    }
}

public class LogFilterTests
{
    private static LogMessage Line(string source, string? level, string? taskId = null) =>
        new() { Timestamp = Canned.T0 + 5, Source = source, Message = "hello", Level = level, TaskId = taskId };

    [Theory]
    [InlineData("debug", LogLevelRank.Debug)]
    [InlineData("TRACE", LogLevelRank.Debug)]
    [InlineData("info", LogLevelRank.Info)]
    [InlineData("Information", LogLevelRank.Info)]
    [InlineData(null, LogLevelRank.Info)]
    [InlineData("something", LogLevelRank.Info)]
    [InlineData("warn", LogLevelRank.Warning)]
    [InlineData("warning", LogLevelRank.Warning)]
    [InlineData("error", LogLevelRank.Error)]
    [InlineData("CRITICAL", LogLevelRank.Error)]
    public void Ranks_levels_as_any_worker_writes_them(string? level, LogLevelRank rank) => Assert.Equal(rank, LogLevels.Rank(level));

    [Fact]
    public void Minimum_level_lets_that_level_and_above_through()
    {
        var filter = new LogFilter(LogLevelRank.Warning);
        Assert.False(filter.Matches(Line("master", "debug")));
        Assert.False(filter.Matches(Line("master", "info")));
        Assert.False(filter.Matches(Line("master", null)));
        Assert.True(filter.Matches(Line("master", "warning")));
        Assert.True(filter.Matches(Line("master", "error")));
        Assert.True(new LogFilter().Matches(Line("master", "debug")));
    }

    [Fact]
    public void Source_matches_exactly_or_as_a_prefix()
    {
        var filter = new LogFilter(Source: "csharp-worker");
        Assert.True(filter.Matches(Line("csharp-worker", "info")));
        Assert.True(filter.Matches(Line("csharp-worker-1a2b", "info")));
        Assert.True(filter.Matches(Line("CSharp-Worker-1", "info")));
        Assert.False(filter.Matches(Line("python-worker-7", "info")));
        Assert.False(filter.Matches(Line("master", "info")));
    }

    [Fact]
    public void Parses_the_level_option()
    {
        Assert.Equal(LogLevelRank.Warning, LogLevels.TryParse("warning"));
        Assert.Equal(LogLevelRank.Debug, LogLevels.TryParse("debug"));
        Assert.Null(LogLevels.TryParse("loud"));
        Assert.Null(LogLevels.TryParse(null));
    }

    [Fact]
    public void Formats_a_line_with_time_level_source_message_and_task()
    {
        Assert.Equal("16:13:20.005 INFO  csharp-worker-1: hello [task t-1]", LogLineFormatter.Format(Line("csharp-worker-1", "info", "t-1"), TimeZoneInfo.Utc));
        Assert.Equal("16:13:20.005 WARN  master: hello", LogLineFormatter.Format(Line("master", "warning"), TimeZoneInfo.Utc));
        Assert.Equal("16:13:20.005 ERROR master: hello", LogLineFormatter.Format(Line("master", "error"), TimeZoneInfo.Utc));
        var evil = new LogMessage { Timestamp = Canned.T0, Source = "w", Message = "two\nlines \u001b[2J", Level = "debug" };
        Assert.Equal(@"16:13:20.000 DEBUG w: two\nlines ?[2J", LogLineFormatter.Format(evil, TimeZoneInfo.Utc));
    }

    [Fact]
    public void The_wire_parser_aictl_uses_rejects_malformed_payloads()
    {
        static ReadOnlySequence<byte> Bytes(string s) => new(Encoding.UTF8.GetBytes(s));
        Assert.True(WireJson.TryParse(Bytes("""{"timestamp":1,"source":"s","message":"m"}"""), out LogMessage? ok, out string? _));
        Assert.Equal("s", ok!.Source);
        Assert.False(WireJson.TryParse(Bytes("garbage"), out LogMessage? _, out string? _));
        Assert.False(WireJson.TryParse(Bytes("""{"source":"s"}"""), out LogMessage? _, out string? _));
    }
}

public class EndpointsTests
{
    [Theory]
    [InlineData(null, "http://localhost:8888/")]
    [InlineData("", "http://localhost:8888/")]
    [InlineData("http://localhost:8888", "http://localhost:8888/")]
    [InlineData("http://master:9000/", "http://master:9000/")]
    [InlineData("master:9000", "http://master:9000/")]
    [InlineData("https://example.org/ai", "https://example.org/ai/")]
    public void Parses_master_urls(string? value, string expected) => Assert.Equal(expected, Endpoints.ParseMaster(value).ToString());

    [Theory]
    [InlineData("ftp://host")]
    [InlineData("http://")]
    [InlineData("http://host:8888/?x=1")]
    public void Rejects_what_is_not_a_master_url(string value)
    {
        var e = Assert.Throws<CtlException>(() => Endpoints.ParseMaster(value));
        Assert.Contains("--master http://host:port", e.Message);
        Assert.Equal(2, e.ExitCode);
    }

    [Theory]
    [InlineData(null, "localhost", 1883)]
    [InlineData("broker", "broker", 1883)]
    [InlineData("broker:1884", "broker", 1884)]
    [InlineData("mqtt://10.0.0.1:2000", "10.0.0.1", 2000)]
    [InlineData("[::1]:1885", "::1", 1885)]
    [InlineData("[::1]", "::1", 1883)]
    public void Parses_broker_addresses(string? value, string host, int port) => Assert.Equal((host, port), Endpoints.ParseBroker(value));

    [Theory]
    [InlineData("host:0")]
    [InlineData("host:port")]
    [InlineData(":1883")]
    [InlineData("::1")]
    [InlineData("host:70000")]
    public void Rejects_bad_broker_addresses(string value)
    {
        var e = Assert.Throws<CtlException>(() => Endpoints.ParseBroker(value));
        Assert.Contains("--broker host:port", e.Message);
    }

    [Theory]
    [InlineData("3s", 3000)]
    [InlineData("500ms", 500)]
    [InlineData("2m", 120_000)]
    [InlineData("1.5", 1500)]
    [InlineData("00:00:04", 4000)]
    public void Parses_durations(string value, int ms)
    {
        Assert.True(Endpoints.TryParseDuration(value, out var d));
        Assert.Equal(TimeSpan.FromMilliseconds(ms), d);
    }

    [Theory]
    [InlineData("")]
    [InlineData("soon")]
    [InlineData("0s")]
    [InlineData("-3s")]
    public void Rejects_bad_durations(string value) => Assert.False(Endpoints.TryParseDuration(value, out _));
}

public class ServerSentEventsTests
{
    private static async Task<List<string>> ReadAll(string stream)
    {
        var list = new List<string>();
        await foreach (var data in ServerSentEvents.ReadDataAsync(new StringReader(stream))) list.Add(data);
        return list;
    }

    [Fact]
    public async Task Yields_each_events_data_at_its_blank_line()
    {
        var events = await ReadAll("data: {\"a\":1}\n\n: keep-alive\n\nevent: x\nid: 7\ndata:{\"b\":2}\r\n\r\ndata: one\ndata: two\n\ndata: cut off");
        Assert.Equal(["{\"a\":1}", "{\"b\":2}", "one\ntwo"], events);
    }

    [Fact]
    public async Task An_empty_stream_has_no_events() => Assert.Empty(await ReadAll(""));
}
