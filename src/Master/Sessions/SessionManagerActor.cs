using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Configuration;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Hubs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiSystem.Master.Sessions;

/// <summary>Creates one <see cref="SessionActor"/> per session id and routes messages to it.</summary>
public sealed class SessionManagerActor : ReceiveActor
{
    private readonly IActorRegistry _registry;
    private readonly IBrowserPush _browser;
    private readonly SessionSettings _settings;
    private readonly ILogger<SessionActor> _sessionLog;

    public SessionManagerActor(IActorRegistry registry, IBrowserPush browser, IOptions<LimitsOptions> limits,
        IOptions<SessionsOptions> sessions, ILogger<SessionActor> sessionLog)
    {
        _registry = registry;
        _browser = browser;
        _settings = new SessionSettings(new QueryValidator(limits.Value.MaxQueryChars), sessions.Value.IdleTimeout,
            limits.Value.MaxQueriesPerMinute, sessions.Value.MaxHistory);
        _sessionLog = sessionLog;

        // A valid id gets its session back (from memory, or from its journal); anything else starts a new one.
        Receive<AttachConnection>(m =>
            GetOrCreate(SessionIds.IsValid(m.RequestedSessionId) ? m.RequestedSessionId! : SessionIds.New()).Forward(m));

        Receive<FlushPushes>(_ =>
        {
            var flushes = Context.GetChildren()
                .Select(child => child.Ask<PushesFlushed>(FlushPushes.Instance, TimeSpan.FromSeconds(5)))
                .ToList();
            Task.WhenAll(flushes).ContinueWith(_ => PushesFlushed.Instance, TaskScheduler.Default).PipeTo(Sender);
        });

        // A passivated session is brought back for anything addressed to it: an answer must always be stored.
        Receive<SessionEnvelope>(m =>
        {
            if (!SessionIds.IsValid(m.SessionId)) return;
            if (m.Message is DetachConnection && Context.Child(ChildName(m.SessionId)).IsNobody()) return;
            GetOrCreate(m.SessionId).Forward(m.Message);
        });
    }

    private IActorRef GetOrCreate(string sessionId)
    {
        var child = Context.Child(ChildName(sessionId));
        if (!child.IsNobody()) return child;
        var dispatcher = _registry.Get<DispatcherActor>();
        return Context.ActorOf(Props.Create(() => new SessionActor(sessionId, dispatcher, _browser, _settings, _sessionLog)), ChildName(sessionId));
    }

    private static string ChildName(string sessionId) => "session-" + sessionId;
}

/// <summary>Session ids are GUIDs made by the master; anything else a browser sends is not one.</summary>
public static class SessionIds
{
    public static string New() => Guid.NewGuid().ToString("D");

    public static bool IsValid(string? candidate) => Guid.TryParseExact(candidate, "D", out _);
}

public static class SessionManagerHosting
{
    public static AkkaConfigurationBuilder AddSessionManagerActor(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry, resolver) =>
            registry.Register<SessionManagerActor>(system.ActorOf(resolver.Props<SessionManagerActor>(), "sessions")));
}
