using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Hubs;

namespace AiSystem.Master.Sessions;

/// <summary>Events for browsers connected to one master: <paramref name="ConnectionIds"/> are connections of that master.</summary>
public sealed record PushToBrowsers(IReadOnlyList<string> ConnectionIds, string Method, object Payload);

/// <summary>From the hub: a browser connection of this master belongs to a session, or is gone.</summary>
public sealed record ConnectionOpened(string ConnectionId, string SessionId);
public sealed record ConnectionClosed(string ConnectionId);

/// <summary>
/// From a session that (re)started, maybe on another master after its old one died: which live connections of this
/// master are its browsers? Answered with <see cref="ConnectionsFound"/> when there are any.
/// </summary>
public sealed record FindConnections(string SessionId);
public sealed record ConnectionsFound(IReadOnlyList<string> ConnectionIds, string NodeAddress);

/// <summary>
/// The only way from actors to SignalR, one per master at <c>/user/browser-push</c>: a session (which may live on
/// another master) sends here the events for the connections this master holds. Sends are chained, so every
/// browser sees events in the order the session sent them.
/// </summary>
public sealed class BrowserPushActor : ReceiveActor
{
    public const string Name = "browser-push";
    private Task _chain = Task.CompletedTask;

    private readonly Dictionary<string, string> _sessionOf = new(StringComparer.Ordinal);

    public BrowserPushActor(IBrowserPush browser)
    {
        var self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress.ToString();
        Receive<ConnectionOpened>(m => _sessionOf[m.ConnectionId] = m.SessionId);
        Receive<ConnectionClosed>(m => _sessionOf.Remove(m.ConnectionId));
        Receive<FindConnections>(m =>
        {
            var ids = _sessionOf.Where(c => c.Value == m.SessionId).Select(c => c.Key).ToList();
            if (ids.Count > 0) Sender.Tell(new ConnectionsFound(ids, self));
        });
        Receive<PushToBrowsers>(m =>
            _chain = _chain.ContinueWith(_ => browser.SendAsync(m.ConnectionIds, m.Method, m.Payload), TaskScheduler.Default).Unwrap());
        Receive<FlushPushes>(_ => _chain.ContinueWith(_ => PushesFlushed.Instance, TaskScheduler.Default).PipeTo(Sender));
    }

    /// <summary>The push actor of the master at <paramref name="address"/> (this one when it is ours).</summary>
    public static ActorSelection At(ActorSystem system, string address) => system.ActorSelection($"{address}/user/{Name}");
}

public static class BrowserPushHosting
{
    public static AkkaConfigurationBuilder AddBrowserPushActor(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry, resolver) =>
            registry.Register<BrowserPushActor>(system.ActorOf(resolver.Props<BrowserPushActor>(), BrowserPushActor.Name)));
}
