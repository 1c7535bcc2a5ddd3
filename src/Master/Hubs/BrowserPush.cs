using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;

namespace AiSystem.Master.Hubs;

/// <summary>How the browser push actor reaches browsers: the only path from actors to SignalR.</summary>
public interface IBrowserPush
{
    /// <summary>Completes once the event is handed to the connection's transport; never throws.</summary>
    Task SendAsync(string connectionId, string method, object payload);

    /// <summary>Closes a connection (it stopped reading); the page reconnects and gets its history back.</summary>
    void Abort(string connectionId, string reason);
}

/// <summary>The chat hub's live connections on this master, so that one can be closed from outside the hub.</summary>
public sealed class ChatConnections
{
    private readonly ConcurrentDictionary<string, HubCallerContext> _contexts = new(StringComparer.Ordinal);

    public void Add(HubCallerContext context) => _contexts[context.ConnectionId] = context;
    public void Remove(string connectionId) => _contexts.TryRemove(connectionId, out _);
    public bool Abort(string connectionId)
    {
        if (!_contexts.TryRemove(connectionId, out var context)) return false;
        context.Abort();
        return true;
    }
}

public sealed class SignalRBrowserPush(IHubContext<ChatHub> hub, ChatConnections connections, ILogger<SignalRBrowserPush> log) : IBrowserPush
{
    public Task SendAsync(string connectionId, string method, object payload)
    {
        Task send;
        try
        {
            send = hub.Clients.Client(connectionId).SendAsync(method, payload);
        }
        catch (Exception e)
        {
            log.LogDebug("Push of {Method} failed: {Error}", method, e.Message);
            return Task.CompletedTask;
        }
        return send.IsCompletedSuccessfully ? Task.CompletedTask : Observe(send, method);
    }

    private async Task Observe(Task send, string method)
    {
        try { await send.ConfigureAwait(false); }
        catch (Exception e)
        {
            // A browser that vanished mid-send is normal; the session keeps the event in its journal.
            log.LogDebug("Push of {Method} failed: {Error}", method, e.Message);
        }
    }

    public void Abort(string connectionId, string reason)
    {
        if (connections.Abort(connectionId))
            log.LogWarning("Closed a browser connection: {Reason}", reason);
    }
}
