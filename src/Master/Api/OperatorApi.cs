using System.Text.Json;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Cluster;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Persistence;
using Microsoft.Extensions.Options;

namespace AiSystem.Master.Api;

public sealed record AddressRequest(string? Address);

/// <summary>
/// The operators' HTTP API (PROTOCOL §4), read by <c>aictl</c> and the dashboard: cluster members, workers, tasks,
/// this master's journal, leave/down, and a live stream of membership events. An edge: it reads state and asks; it
/// decides nothing.
/// </summary>
public static class OperatorApi
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static void MapOperatorApi(this WebApplication app)
    {
        // Guard every /api call when a token is configured.
        app.UseWhen(ctx => ctx.Request.Path.StartsWithSegments("/api"), branch => branch.Use(async (ctx, next) =>
        {
            var token = ctx.RequestServices.GetRequiredService<IOptions<AdminOptions>>().Value.Token;
            if (AdminToken.Allows(token, ctx.Request.Headers.Authorization))
            {
                await next(ctx);
                return;
            }
            ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
            ctx.Response.Headers.WWWAuthenticate = "Bearer";
            await ctx.Response.WriteAsJsonAsync(new { error = "This API needs the admin token: send 'Authorization: Bearer <token>' (aictl --token)." });
        }));

        var api = app.MapGroup("/api");
        api.MapGet("/workers", async (IRequiredActor<DispatcherActor> d) => (await Snapshot(d)).Workers);
        api.MapGet("/tasks", async (IRequiredActor<DispatcherActor> d) => (await Snapshot(d)).Tasks);
        api.MapGet("/usage", async (IRequiredActor<DispatcherActor> d) => (await Snapshot(d)).Usage ?? []);
        api.MapGet("/journal", (JournalProbe journal, HttpContext ctx) => journal.StatusAsync(ctx.RequestAborted));
        api.MapGet("/cluster", (ActorSystem system) => ClusterViews.Snapshot(Akka.Cluster.Cluster.Get(system)));
        api.MapPost("/cluster/leave", (AddressRequest body, ActorSystem system) =>
            Act(body, system, "leave", (cluster, address) => cluster.Leave(address)));
        api.MapPost("/cluster/down", (AddressRequest body, ActorSystem system) =>
            Act(body, system, "down", (cluster, address) => cluster.Down(address)));
        api.MapGet("/cluster/events", StreamEventsAsync);
    }

    private static Task<DispatchView> Snapshot(IRequiredActor<DispatcherActor> dispatcher) =>
        dispatcher.ActorRef.Ask<DispatchView>(GetDispatchView.Instance, AskTimeout);

    private static IResult Act(AddressRequest body, ActorSystem system, string action, Action<Akka.Cluster.Cluster, Address> act)
    {
        if (string.IsNullOrWhiteSpace(body.Address) || !ActorPath.TryParseAddress(body.Address, out var address))
            return Results.BadRequest(new { error = $"'{body.Address}' is not a cluster address (like akka.tcp://ai-system@host:4053)." });
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        if (!state.Members.Any(m => m.Address == address) && !state.Unreachable.Any(m => m.Address == address))
            return Results.BadRequest(new { error = $"No cluster member at {address} (see 'aictl cluster show')." });
        act(cluster, address);
        return Results.Accepted(value: new { address = address.ToString(), action });
    }

    private static async Task StreamEventsAsync(HttpContext context, IRequiredActor<ClusterEventsActor> events)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var channel = Channel.CreateBounded<ClusterEventView>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest });
        var id = Guid.NewGuid();
        events.ActorRef.Tell(new SubscribeClusterEvents(id, channel.Writer));
        try
        {
            await context.Response.Body.FlushAsync(context.RequestAborted);
            await foreach (var e in channel.Reader.ReadAllAsync(context.RequestAborted))
            {
                await context.Response.WriteAsync($"data: {JsonSerializer.Serialize(e, Json)}\n\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        }
        catch (OperationCanceledException) { /* the operator went away */ }
        finally
        {
            events.ActorRef.Tell(new UnsubscribeClusterEvents(id));
        }
    }
}
