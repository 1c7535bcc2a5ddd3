using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Cluster;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Persistence;

namespace AiSystem.Master.Dashboard;

/// <summary>
/// The dashboard's edge on this master: while at least one page watches, it samples the dispatcher, the cluster and
/// this master's journal once a second and pushes a <see cref="DashboardSnapshot"/>; it batches the lines of
/// <c>upb/logs</c> four times a second and keeps the last ones for pages that connect later. Nobody watching: no
/// sampling at all.
/// </summary>
public sealed class DashboardActor : ReceiveActor, IWithTimers
{
    public static readonly TimeSpan SampleInterval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(3);
    /// <summary>A batch this big goes out at once instead of waiting for the next flush.</summary>
    private const int MaxBatch = 500;

    private readonly IActorRef _dispatcher;
    private readonly IDashboardPush _push;
    private readonly Func<ClusterView> _cluster;
    private readonly Func<Task<JournalStatus>> _journal;
    private readonly HashSet<string> _viewers = new(StringComparer.Ordinal);
    private readonly List<DashboardLogLine> _pending = [];
    private readonly LogTail _tail;
    private readonly DashboardSnapshotBuilder _builder = new();
    private DashboardSnapshot? _last;
    private long _seq;
    private bool _sampling;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="journal">This master's journal status (<see cref="JournalProbe.StatusAsync"/>).</param>
    public DashboardActor(IActorRef dispatcher, IDashboardPush push, Func<ClusterView> cluster, Func<Task<JournalStatus>> journal,
        int tailLines = LogTail.DefaultCapacity)
    {
        _dispatcher = dispatcher;
        _push = push;
        _cluster = cluster;
        _journal = journal;
        _tail = new LogTail(tailLines);

        Receive<DashboardViewerJoined>(m =>
        {
            _viewers.Add(m.ConnectionId);
            string[] one = [m.ConnectionId];
            _ = _push.SendAsync(one, DashboardEvents.LogLines, _tail.ToArray());
            if (_last is not null) _ = _push.SendAsync(one, DashboardEvents.Snapshot, _last);
            if (_viewers.Count == 1) Sample(); // the first page need not wait for the next tick
        });
        Receive<DashboardViewerLeft>(m => _viewers.Remove(m.ConnectionId));

        Receive<LogLineReceived>(m =>
        {
            _pending.Add(DashboardLogLine.From(++_seq, m.Line));
            if (_pending.Count >= MaxBatch) Flush();
        });
        Receive<FlushLogs>(_ => Flush());

        Receive<SampleTick>(_ => Sample());
        Receive<Sampled>(m =>
        {
            _sampling = false;
            _last = _builder.Build(DateTimeOffset.UtcNow, _cluster(), m.Dispatch, m.Answers, m.Journal);
            Broadcast(DashboardEvents.Snapshot, _last);
        });
        Receive<SampleFailed>(m =>
        {
            _sampling = false;
            _last = DashboardSnapshotBuilder.WithoutDispatcher(_last, DateTimeOffset.UtcNow, _cluster(), m.Error, m.Journal);
            Broadcast(DashboardEvents.Snapshot, _last);
        });
    }

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer("sample", SampleTick.Instance, SampleInterval);
        Timers.StartPeriodicTimer("flush", FlushLogs.Instance, FlushInterval);
    }

    private void Flush()
    {
        if (_pending.Count == 0) return;
        var batch = _pending.ToArray();
        _pending.Clear();
        _tail.AddRange(batch);
        Broadcast(DashboardEvents.LogLines, batch);
    }

    private void Sample()
    {
        if (_viewers.Count == 0 || _sampling) return; // one question at a time: a slow dispatcher is not flooded
        _sampling = true;
        SampleAsync(_dispatcher, _journal).PipeTo(Self);
    }

    private static async Task<object> SampleAsync(IActorRef dispatcher, Func<Task<JournalStatus>> journal)
    {
        // The journal apart from the dispatcher: while the journal fails, the dispatcher restarts and does not answer.
        var status = ReadJournalAsync(journal);
        try
        {
            var dispatch = dispatcher.Ask<DispatchView>(GetDispatchView.Instance, AskTimeout);
            var answers = dispatcher.Ask<AnswerSeriesView>(GetAnswerSeries.Instance, AskTimeout);
            return new Sampled(await dispatch, await answers, await status);
        }
        catch (Exception e)
        {
            return new SampleFailed($"The dispatcher did not answer ({e.GetType().Name}); showing what it said last.", await status);
        }
    }

    private static async Task<JournalStatus?> ReadJournalAsync(Func<Task<JournalStatus>> journal)
    {
        try
        {
            return await journal();
        }
        catch (Exception)
        {
            return null; // the page shows the journal as unknown; the next sample tries again
        }
    }

    private void Broadcast(string method, object payload)
    {
        if (_viewers.Count > 0) _ = _push.SendAsync([.. _viewers], method, payload);
    }

    private sealed record SampleTick
    {
        public static readonly SampleTick Instance = new();
    }

    private sealed record FlushLogs
    {
        public static readonly FlushLogs Instance = new();
    }

    private sealed record Sampled(DispatchView Dispatch, AnswerSeriesView Answers, JournalStatus? Journal);

    private sealed record SampleFailed(string Error, JournalStatus? Journal);
}

public static class DashboardActorHosting
{
    /// <summary>One dashboard actor per master; it reads the dispatcher through its singleton proxy, and its own journal.</summary>
    public static AkkaConfigurationBuilder AddDashboardActor(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry, resolver) =>
        {
            var dispatcher = registry.Get<DispatcherActor>();
            var push = resolver.GetService<IDashboardPush>();
            var journal = resolver.GetService<JournalProbe>();
            var cluster = Akka.Cluster.Cluster.Get(system);
            Func<ClusterView> view = () => ClusterViews.Snapshot(cluster);
            registry.Register<DashboardActor>(system.ActorOf(Props.Create(() => new DashboardActor(dispatcher, push, view, () => journal.StatusAsync(CancellationToken.None), LogTail.DefaultCapacity)), "dashboard"));
        });
}
