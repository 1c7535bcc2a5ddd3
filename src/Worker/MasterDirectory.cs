using Akka.Actor;
using Akka.Cluster;
using AiSystem.Messages.Cluster;

namespace AiSystem.Worker;

/// <summary>
/// The masters a result can be sent to, as the cluster sees them now: each master announces its gRPC endpoint as a
/// role (<see cref="ClusterRoles.GrpcEndpointPrefix"/>), and any master hands a result to the dispatcher.
/// </summary>
public sealed record MasterEndpoints(IReadOnlyList<string> Reachable, IReadOnlySet<string> Unreachable)
{
    public static readonly MasterEndpoints None = new([], new HashSet<string>());

    /// <summary>Every master of the cluster, whatever its state (joining, up, leaving, unreachable): who may send tasks.</summary>
    public IReadOnlySet<string> Members { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Where attempt <paramref name="attempt"/> (1, 2, …) of a result goes whose task came from
    /// <paramref name="endpoint"/>'s master. The first always goes there. Later ones go only to other masters while the
    /// cluster sees that one unreachable (it crashed: the dispatcher is moving to one of them); otherwise every other
    /// attempt goes to another master and the rest to that one again (it may be restarting on its address, or be
    /// outside the cluster). Without another master, every attempt goes to that one.
    /// </summary>
    public string Target(string endpoint, int attempt)
    {
        if (attempt <= 1) return endpoint;
        var others = Reachable.Where(e => !string.Equals(e, endpoint, StringComparison.OrdinalIgnoreCase)).ToList();
        if (others.Count == 0) return endpoint;
        if (Unreachable.Contains(endpoint)) return others[(attempt - 2) % others.Count];
        return attempt % 2 == 0 ? others[(attempt / 2 - 1) % others.Count] : endpoint;
    }
}

/// <summary>The masters' endpoints now; <see cref="MasterEndpoints.None"/> outside a cluster.</summary>
public interface IMasterDirectory
{
    MasterEndpoints Current();
}

/// <summary>Reads the cluster's current state (an immutable snapshot, safe from any thread) of this worker's actor system.</summary>
internal sealed class ClusterMasterDirectory(IServiceProvider services) : IMasterDirectory
{
    /// <summary>The last state read and what it gave: the cluster's state object changes only when membership does.</summary>
    private volatile Tuple<object, MasterEndpoints>? _last;

    public MasterEndpoints Current()
    {
        ActorSystem? system;
        try
        {
            system = services.GetService<ActorSystem>();
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            return MasterEndpoints.None; // not started yet, or stopping
        }
        if (system is null || system.WhenTerminated.IsCompleted) return MasterEndpoints.None;
        var state = Akka.Cluster.Cluster.Get(system).State;
        if (_last is { } last && ReferenceEquals(last.Item1, state)) return last.Item2; // every task asks (TaskOrigin)
        var unreachable = state.Unreachable.Select(ClusterRoles.GrpcEndpointOf).OfType<string>().ToHashSet(StringComparer.OrdinalIgnoreCase);
        var reachable = state.Members
            .Where(m => m.Status == MemberStatus.Up && !state.Unreachable.Contains(m))
            .Select(ClusterRoles.GrpcEndpointOf).OfType<string>()
            .Where(e => !unreachable.Contains(e))
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToList();
        var members = state.Members.Concat(state.Unreachable)
            .Select(ClusterRoles.GrpcEndpointOf).OfType<string>()
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var endpoints = new MasterEndpoints(reachable, unreachable) { Members = members };
        _last = Tuple.Create<object, MasterEndpoints>(state, endpoints);
        return endpoints;
    }
}

/// <summary>
/// Tasks cannot send a worker's answers just anywhere (issue 14): a task's <c>grpc_endpoint</c> must be a master this
/// worker knows, from the cluster (each master announces its endpoint) or from <c>Worker__MasterEndpoints</c>. A worker
/// that knows no master at all (outside any cluster, nothing configured) has nothing to check against and takes the
/// task; the broker's access rules are then the only guard, as for the original workers.
/// </summary>
public sealed class TaskOrigin(IMasterDirectory masters, IReadOnlyCollection<string> configured)
{
    private readonly HashSet<string> _configured = new(configured.Select(e => e.Trim()).Where(e => e.Length > 0), StringComparer.OrdinalIgnoreCase);

    /// <summary>Null when the worker may send the task's result to <paramref name="grpcEndpoint"/>, else why not.</summary>
    public string? Refusal(string grpcEndpoint)
    {
        if (_configured.Contains(grpcEndpoint)) return null;
        var cluster = masters.Current().Members;
        if (cluster.Contains(grpcEndpoint)) return null;
        if (_configured.Count == 0 && cluster.Count == 0) return null;
        return $"its grpc_endpoint {grpcEndpoint} is none of the masters this worker knows ({string.Join(", ", _configured.Concat(cluster).Distinct(StringComparer.OrdinalIgnoreCase).Order())})";
    }
}
