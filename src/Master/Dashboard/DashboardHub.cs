using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Api;
using Microsoft.AspNetCore.SignalR;

namespace AiSystem.Master.Dashboard;

/// <summary>
/// The dashboard's browser edge (<c>/hubs/dashboard</c>): receive-only for the page; it tells the dashboard actor who
/// watches and nothing more. Guarded by the admin token when one is configured (see <see cref="DashboardAccess"/>).
/// </summary>
public sealed class DashboardHub(IRequiredActor<DashboardActor> dashboard) : Hub
{
    public const string Path = "/hubs/dashboard";

    public override Task OnConnectedAsync()
    {
        dashboard.ActorRef.Tell(new DashboardViewerJoined(Context.ConnectionId));
        return Task.CompletedTask;
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        dashboard.ActorRef.Tell(new DashboardViewerLeft(Context.ConnectionId));
        return Task.CompletedTask;
    }
}

/// <summary>How the dashboard actor reaches pages: the only path from it to SignalR.</summary>
public interface IDashboardPush
{
    Task SendAsync(IReadOnlyList<string> connectionIds, string method, object payload);
}

public sealed class SignalRDashboardPush(IHubContext<DashboardHub> hub, ILogger<SignalRDashboardPush> log) : IDashboardPush
{
    public async Task SendAsync(IReadOnlyList<string> connectionIds, string method, object payload)
    {
        try
        {
            await hub.Clients.Clients(connectionIds).SendAsync(method, payload);
        }
        catch (Exception e)
        {
            // A page that closed mid-send is normal; the next snapshot is a second away.
            log.LogDebug("Dashboard push of {Method} to {Count} page(s) failed: {Error}", method, connectionIds.Count, e.Message);
        }
    }
}

/// <summary>
/// Who may open the dashboard hub: anyone when no admin token is configured, else whoever presents it, either as
/// <c>Authorization: Bearer</c> (negotiate, long polling) or as the <c>access_token</c> query parameter (WebSockets
/// and server-sent events cannot set headers in browsers; the SignalR client sends it there).
/// </summary>
public static class DashboardAccess
{
    public static bool Allows(string configuredToken, string? authorizationHeader, string? accessTokenQuery) =>
        AdminToken.Allows(configuredToken, authorizationHeader)
        || (!string.IsNullOrEmpty(accessTokenQuery) && AdminToken.Allows(configuredToken, "Bearer " + accessTokenQuery));
}
