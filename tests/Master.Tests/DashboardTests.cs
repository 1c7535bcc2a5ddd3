using System.Collections.Concurrent;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using AiSystem.Master.Cluster;
using AiSystem.Master.Dashboard;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Persistence;
using AiSystem.Messages;

namespace AiSystem.Master.Tests;

public class AnswerSeriesTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000); // a multiple of 5 s

    [Fact]
    public void Answers_fall_into_their_bucket_and_the_view_covers_the_whole_window_oldest_first()
    {
        var series = new AnswerSeries(TimeSpan.FromSeconds(5), 4);
        series.Record(T0.AddSeconds(1), TimeSpan.FromMilliseconds(100), answered: true);
        series.Record(T0.AddSeconds(4.9), TimeSpan.FromMilliseconds(100), answered: true);
        series.Record(T0.AddSeconds(5), TimeSpan.FromMilliseconds(100), answered: false);
        series.Record(T0.AddSeconds(12), TimeSpan.FromMilliseconds(100), answered: true);

        var view = series.View(T0.AddSeconds(17));

        Assert.Equal(5, view.BucketSeconds);
        Assert.Equal([0L, 5_000, 10_000, 15_000], view.Buckets.Select(b => b.Start - T0.ToUnixTimeMilliseconds()));
        Assert.Equal([2, 0, 1, 0], view.Buckets.Select(b => b.Answered));
        Assert.Equal([0, 1, 0, 0], view.Buckets.Select(b => b.Failed));
        Assert.Null(view.Buckets[1].P50Ms); // failures carry no latency
        Assert.Null(view.Buckets[3].P95Ms);
    }

    [Fact]
    public void Buckets_older_than_the_window_are_forgotten_when_the_ring_comes_round()
    {
        var series = new AnswerSeries(TimeSpan.FromSeconds(5), 3);
        series.Record(T0, TimeSpan.FromMilliseconds(10), answered: true);
        series.Record(T0.AddSeconds(15), TimeSpan.FromMilliseconds(10), answered: true); // same slot, 3 buckets later

        var view = series.View(T0.AddSeconds(15));
        Assert.Equal([0, 0, 1], view.Buckets.Select(b => b.Answered));

        // Much later, with nothing new: everything has left the window, even slots nobody wrote over.
        Assert.All(series.View(T0.AddMinutes(10)).Buckets, b => Assert.Equal(0, b.Answered));
    }

    [Fact]
    public void Percentiles_are_within_a_bin_of_the_true_value()
    {
        var series = new AnswerSeries(TimeSpan.FromSeconds(5), 2);
        for (var i = 1; i <= 100; i++) series.Record(T0, TimeSpan.FromMilliseconds(i * 10), answered: true); // 10 ms .. 1000 ms

        var bucket = series.View(T0).Buckets[^1];

        Assert.Equal(100, bucket.Answered);
        Assert.InRange(bucket.P50Ms!.Value, 500 * 0.89, 500 * 1.12);
        Assert.InRange(bucket.P95Ms!.Value, 950 * 0.89, 950 * 1.12);
    }

    [Theory]
    [InlineData(0.2)]
    [InlineData(3)]
    [InlineData(250)]
    [InlineData(42_000)]
    public void A_single_latency_comes_back_within_ten_percent(double ms)
    {
        var h = new LatencyHistogram();
        h.Add(ms);
        var p = h.Percentile(0.5)!.Value;
        Assert.InRange(p, ms < 1 ? 0 : ms * 0.9, ms < 1 ? 1 : ms * 1.1);
    }

    [Fact]
    public void Very_slow_and_nonsense_latencies_stay_in_range()
    {
        var h = new LatencyHistogram();
        h.Add(double.NaN);
        h.Add(-5);
        h.Add(10_000_000);
        Assert.Equal(3, h.Count);
        Assert.True(h.Percentile(1.0) > 100_000); // the last bin: "over two minutes"
        Assert.Null(new LatencyHistogram().Percentile(0.5));
    }
}

public class LogTailTests
{
    [Fact]
    public void Keeps_only_the_last_lines_in_order()
    {
        var tail = new LogTail(3);
        tail.AddRange(Enumerable.Range(1, 5).Select(i => Line(i)));
        Assert.Equal([3L, 4, 5], tail.ToArray().Select(l => l.Seq));
    }

    [Theory]
    [InlineData(null, "info")]
    [InlineData("Warning", "warning")]
    [InlineData("warn", "warning")]
    [InlineData("critical", "error")]
    [InlineData("trace", "debug")]
    [InlineData("shouting", "info")]
    public void Levels_are_one_of_four(string? given, string shown) =>
        Assert.Equal(shown, DashboardLogLine.NormalizeLevel(given));

    [Fact]
    public void Long_messages_are_cut()
    {
        var line = DashboardLogLine.From(1, new LogMessage { Timestamp = 1, Source = "w", Message = new string('x', 10_000) });
        Assert.Equal(DashboardLogLine.MaxMessageLength + 1, line.Message.Length);
        Assert.EndsWith("…", line.Message);
    }

    internal static DashboardLogLine Line(long seq, string message = "m") => new(seq, seq, "master", "info", message, null, null);
}

public class DashboardSnapshotBuilderTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
    private static readonly ClusterView Cluster = new("akka.tcp://ai-system@m:4053", null, []);

    private static WorkerView Worker(string id, int active = 0, long completed = 0, double lastSeenAgo = 1) =>
        new(id, "csharp", "host-" + id, active > 0 ? "busy" : "idle", "idle", 2, active, Now.AddSeconds(-lastSeenAgo), completed,
            "simulated", "0.1.0", null);

    private static TaskView InFlight(string id, string worker, double assignedAgo) =>
        new(id, "s", "in-flight", worker, 1, null, Now.AddSeconds(-assignedAgo), 0);

    [Fact]
    public void Rows_carry_slots_the_age_of_the_oldest_task_and_counts()
    {
        var dispatch = new DispatchView(
            [Worker("w1", active: 2, completed: 7, lastSeenAgo: 0.5), Worker("w2")],
            [InFlight("t1", "w1", 3), InFlight("t2", "w1", 12.34), new TaskView("t3", "s", "queued", null, 0, 1, null, 0)],
            Undelivered: 1);

        var s = new DashboardSnapshotBuilder().Build(Now, Cluster, dispatch, null);

        var w1 = s.Workers[0];
        Assert.Equal(("w1", "busy", 2, 2, 12.3, 7L, 0.5), (w1.Id, w1.Status, w1.ActiveTasks, w1.Capacity, w1.CurrentTaskAgeSeconds, w1.Completed, w1.LastSeenSecondsAgo));
        Assert.Null(s.Workers[1].CurrentTaskAgeSeconds);
        Assert.Equal((1, 2, 1), (s.Queued, s.InFlight, s.Undelivered));
        Assert.Equal(Now.ToUnixTimeMilliseconds(), s.Timestamp);
        Assert.Null(s.Error);
    }

    [Fact]
    public void A_removed_worker_is_shown_as_gone_for_a_while_then_its_row_goes()
    {
        var builder = new DashboardSnapshotBuilder();
        builder.Build(Now, Cluster, new DispatchView([Worker("w1", active: 1), Worker("w2")], []), null);

        var after = builder.Build(Now.AddSeconds(1), Cluster, new DispatchView([Worker("w2")], []), null);
        Assert.Equal(["w2", "w1"], after.Workers.Select(w => w.Id));
        Assert.Equal("gone", after.Workers[1].Status);
        Assert.Equal(0, after.Workers[1].ActiveTasks);

        var still = builder.Build(Now.AddSeconds(1) + DashboardSnapshotBuilder.GoneLinger - TimeSpan.FromMilliseconds(1), Cluster,
            new DispatchView([Worker("w2")], []), null);
        Assert.Contains(still.Workers, w => w.Id == "w1");

        var later = builder.Build(Now.AddSeconds(1) + DashboardSnapshotBuilder.GoneLinger, Cluster, new DispatchView([Worker("w2")], []), null);
        Assert.Equal(["w2"], later.Workers.Select(w => w.Id));
    }

    [Fact]
    public void A_gone_worker_that_comes_back_is_live_again_and_shown_once()
    {
        var builder = new DashboardSnapshotBuilder();
        builder.Build(Now, Cluster, new DispatchView([Worker("w1")], []), null);
        builder.Build(Now.AddSeconds(1), Cluster, new DispatchView([], []), null);

        var back = builder.Build(Now.AddSeconds(2), Cluster, new DispatchView([Worker("w1")], []), null);

        Assert.Equal([("w1", "idle")], back.Workers.Select(w => (w.Id, w.Status)));
    }

    [Fact]
    public void Without_the_dispatcher_the_last_known_part_is_kept_with_the_reason()
    {
        var last = new DashboardSnapshotBuilder().Build(Now, Cluster, new DispatchView([Worker("w1")], []), null);
        var members = new ClusterView("self", "leader", [new ClusterMemberView("a", ["master"], "up", "reachable", "1")]);

        var journal = new JournalStatus("sqlite", "aisystem.db", JournalState.Failing, null, 2, 1, 0, 0, 0, null);

        var stale = DashboardSnapshotBuilder.WithoutDispatcher(last, Now.AddSeconds(3), members, "no answer", journal);

        Assert.Equal(["w1"], stale.Workers.Select(w => w.Id));
        Assert.Equal("no answer", stale.Error);
        Assert.Same(members, stale.Cluster);
        Assert.Same(journal, stale.Journal); // the journal is this master's own: fresh even without the dispatcher
        Assert.Empty(DashboardSnapshotBuilder.WithoutDispatcher(null, Now, members, "no answer").Workers);
    }
}

public class DashboardAccessTests
{
    [Theory]
    [InlineData("", null, null, true)]
    [InlineData("s3cret", null, null, false)]
    [InlineData("s3cret", "Bearer s3cret", null, true)]
    [InlineData("s3cret", null, "s3cret", true)]
    [InlineData("s3cret", "Bearer wrong", "wrong", false)]
    [InlineData("s3cret", null, "", false)]
    public void The_hub_needs_the_admin_token_in_the_header_or_the_query_when_one_is_set(string configured, string? header, string? query, bool allowed) =>
        Assert.Equal(allowed, DashboardAccess.Allows(configured, header, query));
}

public class DashboardActorTests : TestKit
{
    private sealed class RecordingPush : IDashboardPush
    {
        public ConcurrentQueue<(string[] To, string Method, object Payload)> Sent { get; } = new();

        public Task SendAsync(IReadOnlyList<string> connectionIds, string method, object payload)
        {
            Sent.Enqueue(([.. connectionIds], method, payload));
            return Task.CompletedTask;
        }
    }

    private readonly RecordingPush _push = new();
    private readonly Akka.TestKit.TestProbe _dispatcher;
    private readonly IActorRef _dashboard;
    private static readonly ClusterView Cluster = new("self", null, []);
    private static readonly JournalStatus Journal = new("sqlite", "aisystem.db", JournalState.Ok, DateTimeOffset.UtcNow, 0, 0, 12, 6, 1, null);

    public DashboardActorTests()
    {
        _dispatcher = CreateTestProbe();
        _dashboard = Sys.ActorOf(Props.Create(() => new DashboardActor(_dispatcher.Ref, _push, () => Cluster, () => Task.FromResult(Journal), 3)));
    }

    private static LogLineReceived LogLine(string message) =>
        new(new LogMessage { Timestamp = 1, Source = "master", Message = message, Level = "info" });

    private void AnswerOneSample(params WorkerView[] workers)
    {
        _dispatcher.ExpectMsg<GetDispatchView>();
        _dispatcher.Reply(new DispatchView(workers, []));
        _dispatcher.ExpectMsg<GetAnswerSeries>();
        _dispatcher.Reply(new AnswerSeries().View(DateTimeOffset.UtcNow));
    }

    private List<(string[] To, string Method, object Payload)> SentTo(string connection, string method) =>
        _push.Sent.Where(s => s.To.Contains(connection) && s.Method == method).ToList();

    [Fact]
    public void Nobody_watching_means_no_questions_to_the_dispatcher()
    {
        _dispatcher.ExpectNoMsg(DashboardActor.SampleInterval * 2.5);
    }

    [Fact]
    public void A_page_gets_the_tail_at_once_then_snapshots_and_new_lines_in_batches()
    {
        _dashboard.Tell(new DashboardViewerJoined("c0"));
        foreach (var i in Enumerable.Range(1, 5)) _dashboard.Tell(LogLine($"early {i}"));
        AwaitAssert(() => Assert.Contains(SentTo("c0", DashboardEvents.LogLines), s => Lines(s.Payload).Any(l => l.Message == "early 5")));

        _dashboard.Tell(new DashboardViewerJoined("c1"));
        AwaitAssert(() => Assert.Equal(["early 3", "early 4", "early 5"],
            Lines(SentTo("c1", DashboardEvents.LogLines).First().Payload).Select(l => l.Message)));

        AnswerOneSample(new WorkerView("w1", "csharp", "h", "idle", "idle", 1, 0, DateTimeOffset.UtcNow, 0, "simulated", "1", null));
        AwaitAssert(() =>
        {
            var snapshot = Assert.IsType<DashboardSnapshot>(SentTo("c1", DashboardEvents.Snapshot).Last().Payload);
            Assert.Equal(["w1"], snapshot.Workers.Select(w => w.Id));
            Assert.NotNull(snapshot.Answers);
            Assert.Same(Journal, snapshot.Journal);
        });

        _dashboard.Tell(LogLine("later"));
        AwaitAssert(() => Assert.Contains(SentTo("c1", DashboardEvents.LogLines), s => Lines(s.Payload).Any(l => l.Message == "later")));
        var seqs = SentTo("c1", DashboardEvents.LogLines).SelectMany(s => Lines(s.Payload)).Select(l => l.Seq).ToList();
        Assert.Equal([3L, 4, 5, 6], seqs); // each line once, in order
    }

    [Fact]
    public void A_dispatcher_that_does_not_answer_yields_a_snapshot_with_the_reason_and_sampling_goes_on()
    {
        _dashboard.Tell(new DashboardViewerJoined("c1"));
        _dispatcher.ExpectMsg<GetDispatchView>(); // never answered: the ask times out
        _dispatcher.ExpectMsg<GetAnswerSeries>();

        AwaitAssert(() =>
        {
            var snapshot = Assert.IsType<DashboardSnapshot>(SentTo("c1", DashboardEvents.Snapshot).Last().Payload);
            Assert.Contains("dispatcher did not answer", snapshot.Error);
            Assert.Same(Journal, snapshot.Journal); // the journal panel stays fresh while the dispatcher is away
        }, TimeSpan.FromSeconds(6));
        AnswerOneSample(); // the next tick asks again
    }

    [Fact]
    public void A_page_that_left_gets_nothing_more_and_sampling_stops()
    {
        _dashboard.Tell(new DashboardViewerJoined("c1"));
        AnswerOneSample();
        _dashboard.Tell(new DashboardViewerLeft("c1"));
        _dashboard.Tell(LogLine("after"));

        _dispatcher.ExpectNoMsg(DashboardActor.SampleInterval * 2.5); // also long enough for several log flushes
        Assert.DoesNotContain(_push.Sent, s => s.Method == DashboardEvents.LogLines && Lines(s.Payload).Any(l => l.Message == "after"));
    }

    private static DashboardLogLine[] Lines(object payload) => Assert.IsType<DashboardLogLine[]>(payload);
}

public class DispatcherAnswerSeriesTests : TestKit
{
    public DispatcherAnswerSeriesTests() : base("""
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        """) { }

    private sealed class NoPublisher : ITaskPublisher
    {
        public Task PublishTaskAsync(TaskMessage task, CancellationToken cancellationToken = default) => Task.CompletedTask;
        public Task PublishCancelAsync(CancelMessage cancel, CancellationToken cancellationToken = default) => Task.CompletedTask;
    }

    private sealed class NoJournal : IJournalIndex
    {
        public Task<long> HighestOrderingAsync(CancellationToken cancellationToken = default) => Task.FromResult(0L);
        public Task<IReadOnlyList<string>> PersistenceIdsWrittenAfterAsync(long ordering, string prefix, int limit, CancellationToken cancellationToken = default) =>
            Task.FromResult<IReadOnlyList<string>>([]);
    }

    [Fact]
    public void The_dispatcher_counts_answers_and_failures_with_their_latency_in_the_current_bucket()
    {
        var settings = new DispatcherSettings("master:50051", new DispatchPolicy(100, TimeSpan.FromMinutes(2), 3), TestKeys.Shared);
        var sessions = CreateTestProbe();
        var dispatcher = Sys.ActorOf(Props.Create(() => new DispatcherActor(new NoPublisher(), sessions.Ref, new NoJournal(), settings,
            new AiSystem.Master.Observability.MasterMetrics(), Microsoft.Extensions.Logging.Abstractions.NullLogger<DispatcherActor>.Instance)));
        dispatcher.Tell(new RegisterWorker(new WorkerRegistration { WorkerId = "w1", Status = "idle", Timestamp = 1, Capacity = 2 }));
        var asked = EpochMs.Now() - 400; // the question was asked 400 ms ago
        dispatcher.Tell(new SubmitTask(new TaskRequest("t1", "s1", "q1", "", asked)), sessions.Ref);
        dispatcher.Tell(new SubmitTask(new TaskRequest("t2", "s1", "q2", "", asked)), sessions.Ref);
        sessions.ExpectMsg<AiSystem.Master.Sessions.TaskAdmitted>();
        sessions.ExpectMsg<AiSystem.Master.Sessions.TaskAdmitted>();

        dispatcher.Tell(new CompleteTask(new WorkerResult("w1", "t1", TestKeys.Alias("t1", "w1"), asked, "a", "", false, "", 0, 0)), TestActor);
        dispatcher.Tell(new CompleteTask(new WorkerResult("w1", "t2", TestKeys.Alias("t2", "w1"), asked, "", "model down", false, "", 0, 0)), TestActor);
        sessions.ExpectMsg<AiSystem.Master.Sessions.RecordOutcome>();
        sessions.ExpectMsg<AiSystem.Master.Sessions.RecordOutcome>();

        dispatcher.Tell(GetAnswerSeries.Instance, TestActor);
        var view = ExpectMsg<AnswerSeriesView>();
        Assert.Equal(AnswerSeries.DefaultBuckets, view.Buckets.Length);
        Assert.Equal((1, 1), (view.Buckets.Sum(b => b.Answered), view.Buckets.Sum(b => b.Failed)));
        var answered = view.Buckets.Single(b => b.Answered > 0);
        Assert.True(answered == view.Buckets[^1] || answered == view.Buckets[^2], "the answer is in the newest buckets");
        Assert.InRange(answered.P50Ms!.Value, 350, 5_000);
    }
}
