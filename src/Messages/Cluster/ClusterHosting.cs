using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Microsoft.Extensions.Logging;

namespace AiSystem.Messages.Cluster;

/// <summary>The <c>Akka</c> configuration section: this node's remoting address and the cluster's seed nodes.</summary>
public sealed class AkkaOptions
{
    public const string Section = "Akka";
    public const string SystemName = "ai-system";
    public const int MasterDefaultPort = 4053;

    /// <summary>The host name other nodes reach this one by (in Swarm: the service or container name).</summary>
    public string Hostname { get; set; } = "localhost";
    /// <summary>Remoting port; 0 = any free port. Default: 4053 for a master, 0 for a worker.</summary>
    public int? Port { get; set; }
    /// <summary>Comma-separated seed node addresses; default: the master on this machine.</summary>
    public string SeedNodes { get; set; } = "";
    /// <summary>How long an unreachable node may stay unreachable before the split brain resolver downs it.</summary>
    public TimeSpan DownUnreachableAfter { get; set; } = TimeSpan.FromSeconds(20);
    /// <summary>
    /// Remoting over TLS (<c>akka.ssl.tcp://</c> addresses), mutual: every node presents <c>Tls__CertificatePath</c> and
    /// accepts only peers whose certificate chains to <c>Tls__CaFile</c>. Off by default (loopback); on in the Swarm stack.
    /// </summary>
    public bool Tls { get; set; }

    public int EffectivePort(string role) => Port ?? (role == ClusterRoles.Master ? MasterDefaultPort : 0);

    /// <summary><c>akka.tcp</c>, or <c>akka.ssl.tcp</c> with <see cref="Tls"/> (the DotNetty transport's scheme for TLS).</summary>
    public string Protocol => Tls ? "akka.ssl.tcp" : "akka.tcp";

    public static string AddressOf(string host, int port, bool tls = false) => $"{(tls ? "akka.ssl.tcp" : "akka.tcp")}://{SystemName}@{host}:{port}";

    /// <summary>This cluster's address of a node, in the protocol <see cref="Tls"/> says.</summary>
    public string Address(string host, int port) => AddressOf(host, port, Tls);

    public IReadOnlyList<string> EffectiveSeedNodes(string role)
    {
        var seeds = SeedNodes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (seeds.Length > 0) return seeds;
        return role == ClusterRoles.Master
            ? [Address(Hostname, EffectivePort(role))]
            : [Address("localhost", MasterDefaultPort)];
    }

    /// <summary>A message naming the bad setting, or null.</summary>
    public string? Validate()
    {
        if (Port is < 0 or > 65535) return $"Akka__Port must be between 0 and 65535, got {Port}.";
        if (string.IsNullOrWhiteSpace(Hostname)) return "Akka__Hostname must not be empty.";
        foreach (var seed in EffectiveSeedNodes(ClusterRoles.Worker))
        {
            if (!ActorPath.TryParseAddress(seed, out var address))
                return $"Akka__SeedNodes has '{seed}', which is not an address like {Protocol}://{SystemName}@host:4053.";
            if (address.Protocol != Protocol)
                return $"Akka__SeedNodes has '{seed}', but with Akka__Tls={(Tls ? "true" : "false")} the cluster speaks {Protocol}: write it {Protocol}://{address.System}@{address.Host}:{address.Port}.";
        }
        if (DownUnreachableAfter <= TimeSpan.Zero) return $"Akka__DownUnreachableAfter must be positive, got {DownUnreachableAfter}.";
        return null;
    }
}

public static class ClusterRoles
{
    public const string Master = "master";
    public const string Worker = "worker";

    /// <summary>
    /// A master's second role says where workers send results to it: <c>grpc=host:port</c>, its
    /// <c>Master__PublicGrpcEndpoint</c>. A worker whose task's master is gone sends the result to another master
    /// found this way; any master hands a result to the dispatcher, wherever it runs.
    /// </summary>
    public const string GrpcEndpointPrefix = "grpc=";

    public static string GrpcEndpoint(string endpoint) => GrpcEndpointPrefix + endpoint;

    /// <summary>The gRPC endpoint a master member announced, or null (a worker, or a master of an older version).</summary>
    public static string? GrpcEndpointOf(Member member) =>
        member.HasRole(Master) && member.Roles.FirstOrDefault(r => r.StartsWith(GrpcEndpointPrefix, StringComparison.Ordinal)) is { } role
            ? role[GrpcEndpointPrefix.Length..]
            : null;
}

public static class ClusterHosting
{
    /// <summary>
    /// Makes this actor system a member of the one <c>ai-system</c> cluster with the given role: remoting from
    /// <c>Akka__Hostname</c>/<c>Akka__Port</c>, seed nodes from <c>Akka__SeedNodes</c>, the app version on every member,
    /// and the split brain resolver on: keep-majority counting masters only. Workers come and go by the dozen, so a
    /// crowd of dead workers must never outvote the masters: a partition without a master downs itself, the side
    /// with most masters survives (on a tie, the side with the lowest master address; so run three masters to
    /// survive the loss of any one). A worker that is downed keeps serving tasks over MQTT (it only stops being a
    /// member); one that is asked to leave leaves and stops. Remoting binds to <paramref name="bindAddress"/>
    /// (<c>Network__Workers</c>; loopback when not given: closed by default). With <c>Akka__Tls</c>, remoting speaks
    /// mutual TLS with <paramref name="tls"/> (see <see cref="RemotingTls"/>).
    /// </summary>
    public static AkkaConfigurationBuilder WithAiCluster(this AkkaConfigurationBuilder builder, AkkaOptions options, string role, string appVersion,
        IReadOnlyList<string>? moreRoles = null, System.Net.IPAddress? bindAddress = null, RemotingTls? tls = null)
    {
        var port = options.EffectivePort(role);
        var bindHost = (bindAddress ?? System.Net.IPAddress.Loopback).ToString();
        if (options.Tls && tls is null)
            throw new InvalidOperationException("Akka__Tls is true but no certificate was loaded for remoting (RemotingTls.Load).");
        var remote = new RemoteOptions { HostName = bindHost, PublicHostName = options.Hostname, Port = port };
        if (options.Tls) tls!.ApplyTo(remote);
        return builder
            .WithRemoting(remote)
            .WithClustering(new ClusterOptions
            {
                SeedNodes = [.. options.EffectiveSeedNodes(role)],
                AppVersion = appVersion,
                SplitBrainResolver = new KeepMajorityOption { Role = ClusterRoles.Master },
            })
            .AddHocon($$"""
                akka.cluster.split-brain-resolver.stable-after = {{(int)options.DownUnreachableAfter.TotalMilliseconds}}ms
                # Workers flapping must never take the masters down with them: no "down everything when unstable".
                akka.cluster.split-brain-resolver.down-all-when-unstable = off
                akka.cluster.log-info = off
                akka.cluster.run-coordinated-shutdown-when-down = {{(role == ClusterRoles.Master ? "on" : "off")}}
                # The roles, here rather than in ClusterOptions: it writes them unquoted, and grpc=host:port is no bare HOCON word.
                akka.cluster.roles = [{{string.Join(", ", new[] { role }.Concat(moreRoles ?? []).Select(Quoted))}}]
                """, HoconAddMode.Prepend);
    }

    private static string Quoted(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>Logs when this node is up in the cluster, and warns (once) when it still is not after a while.</summary>
    public static void ReportClusterJoin(ActorSystem system, ILogger log, TimeSpan patience)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var joined = 0;
        cluster.RegisterOnMemberUp(() =>
        {
            Interlocked.Exchange(ref joined, 1);
            log.LogInformation("Joined the cluster as {Address}", cluster.SelfAddress);
        });
        system.Scheduler.Advanced.ScheduleOnce(patience, () =>
        {
            if (Volatile.Read(ref joined) == 0)
                log.LogWarning("Not in the cluster after {Patience} (seed nodes unreachable?); still serving tasks over MQTT. Address {Address}",
                    patience, cluster.SelfAddress);
        });
    }
}
