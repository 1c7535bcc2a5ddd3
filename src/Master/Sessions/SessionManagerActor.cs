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
    private readonly QueryValidator _validator;
    private readonly TimeSpan _idleTimeout;
    private readonly int _maxQueriesPerMinute;
    private readonly ILogger<SessionActor> _sessionLog;

    public SessionManagerActor(IActorRegistry registry, IBrowserPush browser, IOptions<LimitsOptions> limits,
        IOptions<SessionsOptions> sessions, ILogger<SessionActor> sessionLog)
    {
        _registry = registry;
        _browser = browser;
        _validator = new QueryValidator(limits.Value.MaxQueryChars);
        _idleTimeout = sessions.Value.IdleTimeout;
        _maxQueriesPerMinute = limits.Value.MaxQueriesPerMinute;
        _sessionLog = sessionLog;

        Receive<AttachConnection>(m =>
        {
            var existing = SessionIds.IsValid(m.RequestedSessionId) ? Context.Child(ChildName(m.RequestedSessionId!)) : ActorRefs.Nobody;
            var session = existing.IsNobody() ? Create(SessionIds.New()) : existing;
            session.Forward(m);
        });

        Receive<FlushPushes>(_ =>
        {
            var flushes = Context.GetChildren()
                .Select(child => child.Ask<PushesFlushed>(FlushPushes.Instance, TimeSpan.FromSeconds(5)))
                .ToList();
            Task.WhenAll(flushes).ContinueWith(_ => PushesFlushed.Instance, TaskScheduler.Default).PipeTo(Sender);
        });

        Receive<SessionEnvelope>(m =>
        {
            var child = SessionIds.IsValid(m.SessionId) ? Context.Child(ChildName(m.SessionId)) : ActorRefs.Nobody;
            if (child.IsNobody())
            {
                // A notice for an expired session, or a submit from a connection whose session is gone.
                if (m.Message is SubmitQuery)
                    Sender.Tell(SubmitOutcome.Refused("This chat session has expired. Reload the page to start a new one."));
                return;
            }
            child.Forward(m.Message);
        });
    }

    private IActorRef Create(string sessionId)
    {
        var dispatcher = _registry.Get<DispatcherActor>();
        return Context.ActorOf(Props.Create(() =>
            new SessionActor(sessionId, dispatcher, _browser, _validator, _idleTimeout, _maxQueriesPerMinute, _sessionLog)), ChildName(sessionId));
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
