using AiSystem.Master.Api;
using Microsoft.Extensions.Options;

namespace AiSystem.Master.Dashboard;

/// <summary>The live operator dashboard: the page at <c>/dashboard</c>, its hub, its log feed (see README, Dashboard).</summary>
public static class DashboardHosting
{
    public const string PagePath = "/dashboard";

    /// <summary>Services of the dashboard; its actor is added to Akka with <see cref="DashboardActorHosting.AddDashboardActor"/>.</summary>
    public static IServiceCollection AddDashboard(this IServiceCollection services) => services
        .AddSingleton<IDashboardPush, SignalRDashboardPush>()
        .AddHostedService<DashboardLogFeed>();

    public static void MapDashboard(this WebApplication app)
    {
        // The hub answers only with the admin token when one is configured, like /api.
        app.UseWhen(ctx => ctx.Request.Path.StartsWithSegments(DashboardHub.Path), branch => branch.Use(async (ctx, next) =>
        {
            var token = ctx.RequestServices.GetRequiredService<IOptions<AdminOptions>>().Value.Token;
            if (DashboardAccess.Allows(token, ctx.Request.Headers.Authorization, ctx.Request.Query["access_token"]))
            {
                await next(ctx);
                return;
            }
            ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
            ctx.Response.Headers.WWWAuthenticate = "Bearer";
            await ctx.Response.WriteAsJsonAsync(new { error = "The dashboard needs the admin token (Admin__Token): enter it on the page." });
        }));
        app.MapHub<DashboardHub>(DashboardHub.Path);

        var page = Path.Combine(app.Environment.WebRootPath, "dashboard.html");
        app.MapGet(PagePath, (HttpContext ctx) =>
        {
            ctx.Response.Headers.CacheControl = "no-cache";
            return Results.File(page, "text/html; charset=utf-8");
        });
    }
}
