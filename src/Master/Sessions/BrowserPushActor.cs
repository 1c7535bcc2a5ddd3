using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Hubs;

namespace AiSystem.Master.Sessions;

/// <summary>Events for browsers connected to one master: <paramref name="ConnectionIds"/> are connections of that master.</summary>
public sealed record PushToBrowsers(IReadOnlyList<string> ConnectionIds, string Method, object Payload);

/// <summary>
/// The only way from actors to SignalR, one per master at <c>/user/browser-push</c>: a session (which may live on
/// another master) sends here the events for the connections this master holds. Sends are chained, so every
/// browser sees events in the order the session sent them.
/// </summary>
public sealed class BrowserPushActor : ReceiveActor
{
    public const string Name = "browser-push";
    private Task _chain = Task.CompletedTask;

    public BrowserPushActor(IBrowserPush browser)
    {
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
