using Microsoft.AspNetCore.SignalR;

namespace AiSystem.Master.Hubs;

/// <summary>How session actors reach browsers: the only path from actors to SignalR.</summary>
public interface IBrowserPush
{
    Task SendAsync(IReadOnlyList<string> connectionIds, string method, object payload);
}

public sealed class SignalRBrowserPush(IHubContext<ChatHub> hub, ILogger<SignalRBrowserPush> log) : IBrowserPush
{
    public async Task SendAsync(IReadOnlyList<string> connectionIds, string method, object payload)
    {
        try
        {
            await hub.Clients.Clients(connectionIds).SendAsync(method, payload);
        }
        catch (Exception e)
        {
            // A browser that vanished mid-send is normal; the session keeps the event in its history.
            log.LogDebug("Push of {Method} to {Count} connection(s) failed: {Error}", method, connectionIds.Count, e.Message);
        }
    }
}
