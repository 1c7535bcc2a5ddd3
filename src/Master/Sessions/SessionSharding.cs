using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using AiSystem.Master.Configuration;
using AiSystem.Master.Dispatch;
using AiSystem.Messages.Cluster;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiSystem.Master.Sessions;

/// <summary>Registry key of the session shard region: one <see cref="SessionActor"/> per session id, on any master.</summary>
public sealed class SessionRegion;

/// <summary>Session ids are GUIDs made by the master; anything else a browser sends is not one.</summary>
public static class SessionIds
{
    public static string New() => Guid.NewGuid().ToString("D");

    public static bool IsValid(string? candidate) => Guid.TryParseExact(candidate, "D", out _);

    /// <summary>
    /// The form of a session id that logs, <c>upb/logs</c>, <c>/api</c> and the dashboard show: its first 8 characters,
    /// enough to correlate lines, and not the whole id (which, without its resume token, does not open the session anyway).
    /// </summary>
    public static string Short(string sessionId) => sessionId.Length > 8 ? sessionId[..8] : sessionId;
}

/// <summary>Routes every <see cref="ISessionCommand"/> by its session id; the command itself is what the session gets.</summary>
public sealed class SessionMessageExtractor() : HashCodeMessageExtractor(MaxShards)
{
    public const int MaxShards = 100;

    public override string? EntityId(object message) => message is ISessionCommand c ? c.SessionId : null;

    public override object? EntityMessage(object message) => message;
}

public static class SessionShardingHosting
{
    /// <summary>
    /// Sessions are sharded over the masters by session id: a browser connected to any master reaches its session,
    /// wherever it lives, and a session comes back from its journal on another master when its master dies.
    /// </summary>
    public static AkkaConfigurationBuilder AddSessionSharding(this AkkaConfigurationBuilder builder) =>
        builder.WithShardRegion<SessionRegion>("session", (system, registry, resolver) =>
        {
            var limits = resolver.GetService<IOptions<LimitsOptions>>().Value;
            var sessions = resolver.GetService<IOptions<SessionsOptions>>().Value;
            var journal = resolver.GetService<AiSystem.Master.Persistence.JournalHealth>();
            var chat = resolver.GetService<IOptions<ChatOptions>>().Value;
            var models = resolver.GetService<IOptions<ModelListOptions>>().Value;
            var settings = new SessionSettings(new QueryValidator(limits.MaxQueryChars), sessions.IdleTimeout,
                limits.MaxQueriesPerMinute, sessions.MaxHistory,
                () => journal.IsFailing(DateTimeOffset.UtcNow, SessionActor.JournalRetryAfter),
                new ChatSettings(chat.ContextChars, chat.ContextTurns, chat.SystemPrompt, models.List));
            var log = resolver.GetService<ILogger<SessionActor>>();
            return sessionId => Props.Create(() =>
                new SessionActor(sessionId, registry.Get<DispatcherActor>(), registry.Get<BrowserPushActor>(), settings, log));
        }, new SessionMessageExtractor(), new ShardOptions
        {
            Role = ClusterRoles.Master,
            StateStoreMode = StateStoreMode.DData,
            RememberEntities = false,
        });
}
