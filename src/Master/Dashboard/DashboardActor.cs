using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Cluster;
using AiSystem.Master.Dispatch;

namespace AiSystem.Master.Dashboard;

/// <summary>
/// The dashboard's edge on this master: while at least one page watches, it samples the dispatcher and the cluster
/// once a second and pushes a <see cref="DashboardSnapshot"/>; it batches the lines of <c>upb/logs</c> four times a
/// second and keeps the last ones for pages that connect later. Nobody watching: no sampling at all.
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
    private readonly HashSet<string> _viewers = new(StringComparer.Ordinal);
    private readonly List<DashboardLogLine> _pending = [];
    private readonly LogTail _tail;
    private readonly DashboardSnapshotBuilder _builder = new();
    private DashboardSnapshot? _last;
    private long _seq;
    private bool _sampling;

    public ITimerScheduler Timers { get; set; } = null!;

    public DashboardActor(IActorRef dispatcher, IDashboardPush push, Func<ClusterView> cluster, int tailLines = LogTail.DefaultCapacity)
    {
        _dispatcher = dispatcher;
        _push = push;
        _cluster = cluster;
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
            _last = _builder.Build(DateTimeOffset.UtcNow, _cluster(), m.Dispatch, m.Answers);
            Broadcast(DashboardEvents.Snapshot, _last);
        });
        Receive<SampleFailed>(m =>
        {
            _sampling = false;
            _last = DashboardSnapshotBuilder.WithoutDispatcher(_last, DateTimeOffset.UtcNow, _cluster(), m.Error);
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
        SampleAsync(_dispatcher).PipeTo(Self);
    }

    private static async Task<object> SampleAsync(IActorRef dispatcher)
    {
        try
        {
            var dispatch = dispatcher.Ask<DispatchView>(GetDispatchView.Instance, AskTimeout);
            var answers = dispatcher.Ask<AnswerSeriesView>(GetAnswerSeries.Instance, AskTimeout);
            return new Sampled(await dispatch, await answers);
        }
        catch (Exception e)
        {
            return new SampleFailed($"The dispatcher did not answer ({e.GetType().Name}); showing what it said last.");
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

    private sealed record Sampled(DispatchView Dispatch, AnswerSeriesView Answers);

    private sealed record SampleFailed(string Error);
}

public static class DashboardActorHosting
{
    /// <summary>One dashboard actor per master; it reads the dispatcher through its singleton proxy.</summary>
    public static AkkaConfigurationBuilder AddDashboardActor(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry, resolver) =>
        {
            var dispatcher = registry.Get<DispatcherActor>();
            var push = resolver.GetService<IDashboardPush>();
            var cluster = Akka.Cluster.Cluster.Get(system);
            Func<ClusterView> view = () => ClusterViews.Snapshot(cluster);
            registry.Register<DashboardActor>(system.ActorOf(Props.Create(() => new DashboardActor(dispatcher, push, view, LogTail.DefaultCapacity)), "dashboard"));
        });
}
