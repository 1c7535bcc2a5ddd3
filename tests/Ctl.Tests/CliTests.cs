using System.Net;
using System.Text;

namespace AiSystem.Ctl.Tests;

/// <summary>aictl run in-process through <see cref="Cli.RunAsync"/>, as the shell would run it.</summary>
public class CliTests
{
    [Fact]
    public async Task Help_lists_the_commands_and_global_options()
    {
        var (exit, stdout, stderr) = await Aictl.RunAsync(["--help"]);
        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        Assert.Contains("aictl [command] [options]", stdout);
        foreach (var word in new[] { "cluster", "workers", "tasks", "journal", "logs", "--master", "--token", "--json", "AICTL_MASTER", "AICTL_TOKEN" })
            Assert.Contains(word, stdout);
    }

    [Fact]
    public async Task Cluster_help_lists_its_subcommands_and_inherits_the_global_options()
    {
        var (exit, stdout, _) = await Aictl.RunAsync(["cluster", "--help"]);
        Assert.Equal(0, exit);
        foreach (var word in new[] { "show", "leader", "leave <address>", "down <address>", "down-unreachable", "tail", "--master" })
            Assert.Contains(word, stdout);
        (exit, stdout, _) = await Aictl.RunAsync(["logs", "--help"]);
        Assert.Equal(0, exit);
        foreach (var word in new[] { "-f, --follow", "--level", "--source", "--broker", "--mqtt-user", "--mqtt-password", "--topic-prefix", "--duration" })
            Assert.Contains(word, stdout);
    }

    [Fact]
    public async Task An_unreachable_master_is_one_clear_line_and_a_failure()
    {
        var (exit, stdout, stderr) = await Aictl.RunAsync(["cluster", "show", "--master", "http://127.0.0.1:1"]);
        Assert.NotEqual(0, exit);
        Assert.Equal("", stdout);
        Assert.Equal("aictl: cannot reach the master at http://127.0.0.1:1 (connection refused). Is it running? Use --master URL.", stderr.TrimEnd());
    }

    [Fact]
    public async Task The_master_comes_from_AICTL_MASTER_when_no_option_is_given()
    {
        var (exit, _, stderr) = await Aictl.RunAsync(["workers"], env: new() { ["AICTL_MASTER"] = "http://127.0.0.1:1" });
        Assert.Equal(1, exit);
        Assert.StartsWith("aictl: cannot reach the master at http://127.0.0.1:1 ", stderr);
    }

    [Theory]
    [InlineData(new[] { "cluster" }, "aictl: Required command was not provided. See 'aictl cluster --help'.")]
    [InlineData(new[] { "cluster", "leave" }, "aictl: Required argument missing for command: 'leave'. See 'aictl cluster leave --help'.")]
    [InlineData(new[] { "nodes" }, "aictl: Unrecognized command or argument 'nodes'. See 'aictl --help'.")]
    public async Task Usage_errors_are_one_line_and_exit_2(string[] args, string expected)
    {
        var (exit, stdout, stderr) = await Aictl.RunAsync(args);
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Equal(expected, stderr.TrimEnd());
    }

    [Fact]
    public async Task Cluster_show_prints_the_members_and_sends_the_token()
    {
        var master = FakeMaster.Routes(("/api/cluster", Canned.Cluster));
        var (exit, stdout, stderr) = await Aictl.RunAsync(["cluster", "show", "--token", "s3cret"], master);
        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        var lines = Aictl.Lines(stdout);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("akka.tcp://ai-system@localhost:4053  | [master] ", lines[0]);
        Assert.Equal("Count: 3 nodes", lines[3]);
        var request = Assert.Single(master.Requests);
        Assert.Equal("/api/cluster", request.Path);
        Assert.Equal("Bearer s3cret", request.Authorization);
    }

    [Fact]
    public async Task Json_prints_the_masters_json()
    {
        var master = FakeMaster.Routes(("/api/cluster", Canned.Cluster), ("/api/workers", Canned.Workers), ("/api/tasks", Canned.Tasks),
            ("/api/journal", Canned.Journal));
        foreach (var (command, json) in new[] { ("cluster show", Canned.Cluster), ("workers", Canned.Workers), ("tasks", Canned.Tasks), ("journal", Canned.Journal) })
        {
            var (exit, stdout, _) = await Aictl.RunAsync([.. command.Split(' '), "--json"], master);
            Assert.Equal(0, exit);
            Assert.Equal(json.Trim(), stdout.TrimEnd());
        }
    }

    [Fact]
    public async Task Without_a_token_a_401_says_to_set_one()
    {
        var master = new FakeMaster((_, _) => FakeMaster.Json(HttpStatusCode.Unauthorized, """{"error":"missing token"}"""));
        var (exit, _, stderr) = await Aictl.RunAsync(["workers"], master);
        Assert.Equal(1, exit);
        Assert.Equal("aictl: the master refused the request (401): set --token or AICTL_TOKEN.", stderr.TrimEnd());

        (exit, _, stderr) = await Aictl.RunAsync(["tasks"], master, env: new() { ["AICTL_TOKEN"] = "wrong" });
        Assert.Equal(1, exit);
        Assert.Equal("aictl: the master refused the token (401): check --token or AICTL_TOKEN.", stderr.TrimEnd());
        Assert.Equal("Bearer wrong", master.Requests[^1].Authorization);
    }

    [Fact]
    public async Task Leader_prints_the_address_or_no_leader_with_exit_1()
    {
        var (exit, stdout, _) = await Aictl.RunAsync(["cluster", "leader"], FakeMaster.Routes(("/api/cluster", Canned.Cluster)));
        Assert.Equal(0, exit);
        Assert.Equal("akka.tcp://ai-system@localhost:4053", stdout.TrimEnd());

        (exit, stdout, _) = await Aictl.RunAsync(["cluster", "leader"], FakeMaster.Routes(("/api/cluster", Canned.ClusterNoLeader)));
        Assert.Equal(1, exit);
        Assert.Equal("no leader", stdout.TrimEnd());

        (exit, stdout, _) = await Aictl.RunAsync(["cluster", "leader", "--json"], FakeMaster.Routes(("/api/cluster", Canned.ClusterNoLeader)));
        Assert.Equal(1, exit);
        Assert.Equal("""{"leader":null}""", stdout.TrimEnd());
    }

    [Fact]
    public async Task Journal_prints_the_masters_journal_and_exits_1_while_it_is_failing()
    {
        var master = FakeMaster.Routes(("/api/journal", Canned.Journal));
        var (exit, stdout, stderr) = await Aictl.RunAsync(["journal", "--token", "s3cret"], master);
        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        var lines = Aictl.Lines(stdout);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("ok     sqlite    aisystem.db  0.4s ago", lines[1]);
        Assert.Equal("Last error: none", lines[2]);
        var request = Assert.Single(master.Requests);
        Assert.Equal(("/api/journal", "Bearer s3cret"), (request.Path, request.Authorization));

        (exit, stdout, stderr) = await Aictl.RunAsync(["journal"], FakeMaster.Routes(("/api/journal", Canned.JournalFailing)));
        Assert.Equal(1, exit); // for scripts: a failing journal is a failure
        Assert.Equal("", stderr);
        Assert.StartsWith("failing  postgresql  db-1/aisystem", Aictl.Lines(stdout)[1]);

        (exit, stdout, _) = await Aictl.RunAsync(["journal", "--json"], FakeMaster.Routes(("/api/journal", Canned.JournalFailing)));
        Assert.Equal(1, exit);
        Assert.Equal(Canned.JournalFailing.Trim(), stdout.TrimEnd());
    }

    [Fact]
    public async Task Journal_from_a_master_without_the_endpoint_says_which_version_it_needs()
    {
        var (exit, _, stderr) = await Aictl.RunAsync(["journal"], FakeMaster.Routes());
        Assert.Equal(1, exit);
        Assert.Equal("aictl: the master at http://localhost:8888 has no GET /api/journal (404). Is --master an AiSystem master of the same version?", stderr.TrimEnd());
    }

    [Fact]
    public async Task Leave_and_down_post_the_address()
    {
        const string address = "akka.tcp://ai-system@localhost:40123";
        var master = new FakeMaster((request, body) => FakeMaster.Json(HttpStatusCode.Accepted,
            $$"""{"address":"{{address}}","action":"{{request.RequestUri!.Segments[^1]}}"}"""));

        var (exit, stdout, _) = await Aictl.RunAsync(["cluster", "leave", address], master);
        Assert.Equal(0, exit);
        Assert.Equal($"Asked {address} to leave the cluster.", stdout.TrimEnd());
        Assert.Equal((HttpMethod.Post, "/api/cluster/leave"), (master.Requests[0].Method, master.Requests[0].Path));
        Assert.Equal($$"""{"address":"{{address}}"}""", master.Requests[0].Body);

        (exit, stdout, _) = await Aictl.RunAsync(["cluster", "down", address], master);
        Assert.Equal(0, exit);
        Assert.Equal($"Asked the cluster to down {address}.", stdout.TrimEnd());
        Assert.Equal("/api/cluster/down", master.Requests[1].Path);
    }

    [Fact]
    public async Task Leave_of_a_non_member_names_the_address_and_where_to_look()
    {
        var master = new FakeMaster((_, _) => FakeMaster.Json(HttpStatusCode.BadRequest, """{"error":"not a member"}"""));
        var (exit, _, stderr) = await Aictl.RunAsync(["cluster", "leave", "akka.tcp://ai-system@gone:1"], master);
        Assert.Equal(1, exit);
        Assert.Equal("aictl: no cluster member at akka.tcp://ai-system@gone:1 (see 'aictl cluster show').", stderr.TrimEnd());

        (exit, _, stderr) = await Aictl.RunAsync(["cluster", "down", "gone:1"], master);
        Assert.Equal(2, exit);
        Assert.Equal("aictl: 'gone:1' is not a cluster member address; expected akka.tcp://ai-system@host:port (see 'aictl cluster show').", stderr.TrimEnd());
        Assert.Single(master.Requests); // nothing sent for a malformed address
    }

    [Fact]
    public async Task Down_unreachable_downs_each_unreachable_member()
    {
        var master = new FakeMaster((request, body) => request.Method == HttpMethod.Get
            ? FakeMaster.Json(HttpStatusCode.OK, Canned.Cluster)
            : FakeMaster.Json(HttpStatusCode.Accepted, """{"address":"akka.tcp://ai-system@localhost:40123","action":"down"}"""));
        var (exit, stdout, _) = await Aictl.RunAsync(["cluster", "down-unreachable"], master);
        Assert.Equal(0, exit);
        Assert.Equal("Asked the cluster to down akka.tcp://ai-system@localhost:40123 (unreachable).", stdout.TrimEnd());
        Assert.Equal(2, master.Requests.Count);
        Assert.Equal("""{"address":"akka.tcp://ai-system@localhost:40123"}""", master.Requests[1].Body);

        (exit, stdout, _) = await Aictl.RunAsync(["cluster", "down-unreachable"], FakeMaster.Routes(("/api/cluster", Canned.ClusterNoLeader)));
        Assert.Equal(0, exit);
        Assert.Equal("No unreachable members.", stdout.TrimEnd());
    }

    [Fact]
    public async Task Tail_prints_each_event_until_the_stream_ends()
    {
        const string stream = """
            data: {"timestamp":1764260000000,"event":"member-up","address":"akka.tcp://ai-system@localhost:4053","roles":["master"],"status":"up"}

            : keep-alive

            data: this is not json

            data: {"timestamp":1764260001500,"event":"unreachable","address":"akka.tcp://ai-system@localhost:40123","roles":["worker"],"status":"up"}


            """;
        var master = new FakeMaster((_, _) => new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StringContent(stream.Replace("\r\n", "\n"), Encoding.UTF8, "text/event-stream"),
        });
        var (exit, stdout, stderr) = await Aictl.RunAsync(["cluster", "tail"], master);
        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        Assert.Equal(
        [
            "16:13:20.000  member-up         akka.tcp://ai-system@localhost:4053  [master]",
            "16:13:21.500  unreachable       akka.tcp://ai-system@localhost:40123  [worker]",
        ], Aictl.Lines(stdout));
        Assert.Equal("/api/cluster/events", master.Requests[0].Path);

        (exit, stdout, _) = await Aictl.RunAsync(["cluster", "tail", "--json"], master);
        Assert.Equal(0, exit);
        var lines = Aictl.Lines(stdout);
        Assert.Equal(2, lines.Length); // the line that is not JSON is skipped here too
        Assert.StartsWith("""{"timestamp":1764260000000,"event":"member-up",""", lines[0]);
        Assert.StartsWith("""{"timestamp":1764260001500,"event":"unreachable",""", lines[1]);
    }

    [Fact]
    public async Task Tail_of_something_that_is_not_an_event_stream_says_so()
    {
        var (exit, _, stderr) = await Aictl.RunAsync(["cluster", "tail"], FakeMaster.Routes(("/api/cluster/events", "{}")));
        Assert.Equal(1, exit);
        Assert.StartsWith("aictl: the master at http://localhost:8888 answered GET /api/cluster/events with application/json, not an event stream.", stderr);
    }

    [Fact]
    public async Task Tail_stops_cleanly_on_ctrl_c()
    {
        var body = new BlockingStream("data: {\"timestamp\":1764260000000,\"event\":\"member-up\",\"address\":\"a\",\"roles\":[],\"status\":\"up\"}\n\n");
        var master = new FakeMaster((_, _) => new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StreamContent(body) { Headers = { ContentType = new("text/event-stream") } },
        });
        using var ctrlC = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var (exit, stdout, stderr) = await Aictl.RunAsync(["cluster", "tail"], master, ct: ctrlC.Token);
        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        Assert.Contains("member-up", stdout);
    }

    [Fact]
    public async Task A_server_error_points_at_the_masters_log()
    {
        var master = new FakeMaster((_, _) => FakeMaster.Json(HttpStatusCode.InternalServerError, """{"error":"dispatcher did not answer"}"""));
        var (exit, _, stderr) = await Aictl.RunAsync(["tasks"], master);
        Assert.Equal(1, exit);
        Assert.Equal("aictl: the master failed on GET /api/tasks (500: dispatcher did not answer). See the master's log.", stderr.TrimEnd());
    }

    [Fact]
    public async Task Logs_with_a_bad_duration_or_broker_is_a_usage_error()
    {
        var (exit, _, stderr) = await Aictl.RunAsync(["logs", "--duration", "soon"]);
        Assert.Equal(2, exit);
        Assert.Equal("aictl: 'soon' is not a duration; use e.g. --duration 3s, 500ms or 2m.", stderr.TrimEnd());

        (exit, _, stderr) = await Aictl.RunAsync(["logs", "--broker", "a:b:c"]);
        Assert.Equal(2, exit);
        Assert.StartsWith("aictl: 'a:b:c' is not a broker address", stderr);
    }

    [Fact]
    public async Task Logs_from_an_unreachable_broker_fails_fast_with_the_reason()
    {
        var started = DateTime.UtcNow;
        var (exit, _, stderr) = await Aictl.RunAsync(["logs", "--broker", "127.0.0.1:1"]);
        Assert.Equal(1, exit);
        Assert.Equal("aictl: cannot reach the MQTT broker at 127.0.0.1:1 (connection refused). Is it running? Use --broker host:port (or AICTL_BROKER).", stderr.TrimEnd());
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(4));
    }

    /// <summary>Gives its bytes, then blocks until the read is cancelled: an event stream that stays open.</summary>
    private sealed class BlockingStream(string first) : Stream
    {
        private readonly byte[] _first = Encoding.UTF8.GetBytes(first);
        private bool _sent;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_sent)
            {
                _sent = true;
                _first.CopyTo(buffer);
                return _first.Length;
            }
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
