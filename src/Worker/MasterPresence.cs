using Akka.Actor;
using Akka.Cluster;
using AiSystem.Messages.Cluster;

namespace AiSystem.Worker;

/// <summary>
/// Decides when a worker has lost its cluster for good: it was a member once, and now either it is out (removed or
/// downed, which a node cannot undo without a restart) or its cluster has had no reachable master for
/// <c>Worker__ExitWithoutMasterAfter</c> (all masters left, e.g. a rolling restart of a single master: the new one
/// forms a new cluster). Such a worker still answers over MQTT, but it is invisible to the cluster; restarting it is
/// the only way back in. Plain state, no timers: the actor feeds it events and asks it on a tick.
/// </summary>
public sealed class MasterPresence(TimeSpan patience)
{
    private readonly HashSet<Address> _masters = [];
    private readonly HashSet<Address> _unreachable = [];
    private bool _joined;
    private bool _out;
    private DateTimeOffset? _withoutMasterSince;

    public void SelfUp(DateTimeOffset now) { _joined = true; Update(now); }

    public void SelfOut() { if (_joined) _out = true; }

    public void MasterUp(Address address, DateTimeOffset now) { _masters.Add(address); Update(now); }

    public void MasterGone(Address address, DateTimeOffset now) { _masters.Remove(address); _unreachable.Remove(address); Update(now); }

    public void Unreachable(Address address, DateTimeOffset now) { if (_masters.Contains(address)) _unreachable.Add(address); Update(now); }

    public void Reachable(Address address, DateTimeOffset now) { _unreachable.Remove(address); Update(now); }

    private bool HasReachableMaster => _masters.Any(m => !_unreachable.Contains(m));

    private void Update(DateTimeOffset now)
    {
        if (!_joined || HasReachableMaster) _withoutMasterSince = null;
        else _withoutMasterSince ??= now;
    }

    /// <summary>Why this worker should restart to get back into the cluster, or null while it need not.</summary>
    public string? ReasonToRestart(DateTimeOffset now)
    {
        if (_out) return "this worker was removed from the cluster";
        if (_withoutMasterSince is { } since && now - since >= patience)
            return $"the cluster has had no reachable master for {(int)(now - since).TotalSeconds} s";
        return null;
    }
}

/// <summary>
/// Feeds cluster events to <see cref="MasterPresence"/> and, when the worker has lost its cluster, stops the host
/// with exit code 75 (EX_TEMPFAIL). Stopping drains like SIGTERM: no new task, the running ones finish and are
/// delivered. Its supervisor (Swarm's restart policy, systemd) starts it again and it joins the current cluster.
/// </summary>
public sealed class ClusterMembershipWatch : ReceiveActor, IWithTimers
{
    public const int ExitCode = 75;
    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public ClusterMembershipWatch(TimeSpan patience, IHostApplicationLifetime lifetime, ILogger<ClusterMembershipWatch> log)
    {
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        var presence = new MasterPresence(patience);
        var stopping = false;
        var self = Self;
        cluster.RegisterOnMemberRemoved(() => self.Tell(new SelfRemoved()));

        Receive<ClusterEvent.CurrentClusterState>(state =>
        {
            var now = DateTimeOffset.UtcNow;
            foreach (var m in state.Members)
            {
                if (m.Address == cluster.SelfAddress && m.Status == MemberStatus.Up) presence.SelfUp(now);
                if (m.HasRole(ClusterRoles.Master) && m.Status == MemberStatus.Up) presence.MasterUp(m.Address, now);
            }
            foreach (var m in state.Unreachable) presence.Unreachable(m.Address, now);
        });
        Receive<ClusterEvent.MemberUp>(e =>
        {
            if (e.Member.Address == cluster.SelfAddress) presence.SelfUp(DateTimeOffset.UtcNow);
            if (e.Member.HasRole(ClusterRoles.Master)) presence.MasterUp(e.Member.Address, DateTimeOffset.UtcNow);
        });
        Receive<ClusterEvent.MemberRemoved>(e => presence.MasterGone(e.Member.Address, DateTimeOffset.UtcNow));
        Receive<ClusterEvent.MemberExited>(e => presence.MasterGone(e.Member.Address, DateTimeOffset.UtcNow));
        Receive<ClusterEvent.UnreachableMember>(e => presence.Unreachable(e.Member.Address, DateTimeOffset.UtcNow));
        Receive<ClusterEvent.ReachableMember>(e => presence.Reachable(e.Member.Address, DateTimeOffset.UtcNow));
        Receive<SelfRemoved>(_ => presence.SelfOut());
        Receive<Tick>(_ =>
        {
            if (stopping || lifetime.ApplicationStopping.IsCancellationRequested) return;
            if (presence.ReasonToRestart(DateTimeOffset.UtcNow) is not { } reason) return;
            stopping = true;
            log.LogWarning("Restarting to join the cluster again: {Reason}. Draining first; exit code {Code}", reason, ExitCode);
            Environment.ExitCode = ExitCode;
            lifetime.StopApplication();
        });

        cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.FromSeconds(1));
    }

    private sealed record SelfRemoved;

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
}
