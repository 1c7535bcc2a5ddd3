using System.Threading.Channels;
using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using AiSystem.Master.Dispatch;
using AiSystem.Messages;

namespace AiSystem.Master.Cluster;

/// <summary>One membership change as operators see it (<c>aictl cluster tail</c>, <c>/api/cluster/events</c>).</summary>
public sealed record ClusterEventView(long Timestamp, string Event, string? Address, IReadOnlyList<string> Roles, string? Status);

/// <summary>Adds a live listener (an SSE response); it first gets the current members as events.</summary>
public sealed record SubscribeClusterEvents(Guid Id, ChannelWriter<ClusterEventView> Writer);
public sealed record UnsubscribeClusterEvents(Guid Id);

/// <summary>
/// Watches cluster membership: tells the dispatcher when a node is removed (its worker is gone at once) and
/// streams every change to whoever listens.
/// </summary>
public sealed class ClusterEventsActor : ReceiveActor
{
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly Dictionary<Guid, ChannelWriter<ClusterEventView>> _listeners = [];

    public ClusterEventsActor(IActorRef dispatcher)
    {
        Receive<ClusterEvent.IMemberEvent>(e =>
        {
            if (e is ClusterEvent.MemberRemoved removed)
                dispatcher.Tell(new RemoveWorkersAt(removed.Member.Address.ToString()));
            Broadcast(View(EventName(e), e.Member));
        });
        Receive<ClusterEvent.UnreachableMember>(e => Broadcast(View("unreachable", e.Member)));
        Receive<ClusterEvent.ReachableMember>(e => Broadcast(View("reachable", e.Member)));
        Receive<ClusterEvent.LeaderChanged>(e =>
            Broadcast(new ClusterEventView(EpochMs.Now(), "leader-changed", e.Leader?.ToString(), [], null)));
        Receive<SubscribeClusterEvents>(s =>
        {
            var state = _cluster.State;
            foreach (var m in state.Members.OrderBy(m => m.Address.ToString()))
                s.Writer.TryWrite(View("member-" + ClusterViews.Status(m.Status), m));
            foreach (var m in state.Unreachable)
                s.Writer.TryWrite(View("unreachable", m));
            s.Writer.TryWrite(new ClusterEventView(EpochMs.Now(), "leader-changed", state.Leader?.ToString(), [], null));
            _listeners[s.Id] = s.Writer;
        });
        Receive<UnsubscribeClusterEvents>(u => _listeners.Remove(u.Id));
    }

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.LeaderChanged));

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        foreach (var w in _listeners.Values) w.TryComplete();
    }

    private void Broadcast(ClusterEventView view)
    {
        foreach (var w in _listeners.Values) w.TryWrite(view);
    }

    private static ClusterEventView View(string name, Member m) =>
        new(EpochMs.Now(), name, m.Address.ToString(), [.. m.Roles.Order()], ClusterViews.Status(m.Status));

    private static string EventName(ClusterEvent.IMemberEvent e) => e switch
    {
        ClusterEvent.MemberJoined => "member-joined",
        ClusterEvent.MemberUp => "member-up",
        ClusterEvent.MemberWeaklyUp => "member-weakly-up",
        ClusterEvent.MemberLeft => "member-left",
        ClusterEvent.MemberExited => "member-exited",
        ClusterEvent.MemberDowned => "member-downed",
        ClusterEvent.MemberRemoved => "member-removed",
        _ => "member-" + ClusterViews.Status(e.Member.Status),
    };
}

public sealed record ClusterMemberView(string Address, IReadOnlyList<string> Roles, string Status, string Reachability, string AppVersion);

public sealed record ClusterView(string Self, string? Leader, IReadOnlyList<ClusterMemberView> Members);

public static class ClusterViews
{
    public static string Status(MemberStatus status) => status.ToString().ToLowerInvariant();

    /// <summary>The cluster as this master sees it now (<c>GET /api/cluster</c>).</summary>
    public static ClusterView Snapshot(Akka.Cluster.Cluster cluster)
    {
        var state = cluster.State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        var members = state.Members.Concat(state.Unreachable.Where(u => !state.Members.Contains(u)))
            .OrderBy(m => m.Address.ToString())
            .Select(m => new ClusterMemberView(m.Address.ToString(), [.. m.Roles.Order()], Status(m.Status),
                unreachable.Contains(m.Address) ? "unreachable" : "reachable", m.AppVersion.ToString()))
            .ToList();
        return new ClusterView(cluster.SelfAddress.ToString(), state.Leader?.ToString(), members);
    }
}

public static class ClusterEventsHosting
{
    public static AkkaConfigurationBuilder AddClusterEventsActor(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry, _) =>
        {
            var dispatcher = registry.Get<DispatcherActor>();
            registry.Register<ClusterEventsActor>(system.ActorOf(Props.Create(() => new ClusterEventsActor(dispatcher)), "cluster-events"));
        });
}
