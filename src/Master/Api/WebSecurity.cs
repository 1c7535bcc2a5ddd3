using AiSystem.Master.Configuration;
using AiSystem.Master.Dashboard;
using Microsoft.Extensions.Options;

namespace AiSystem.Master.Api;

/// <summary>
/// What every web response carries (no inline script, no framing, no referrer, no sniffing), and the admin token on
/// <c>/metrics</c> (when a token is configured) and on the <c>/dashboard</c> page (when the web port is beyond loopback).
/// </summary>
public static class WebSecurity
{
    /// <summary>The page loads only its own files; SignalR connects back to the same host over WebSockets.</summary>
    public static string ContentSecurityPolicy(string host) =>
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
        $"connect-src 'self' ws://{host} wss://{host}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>Only where pages are served: the gRPC port's results (the hot path) carry none of this.</summary>
    public static void UseSecurityHeaders(this IApplicationBuilder app) => app.Use((ctx, next) =>
    {
        var headers = ctx.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy(ctx.Request.Host.Value ?? "localhost");
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers.XContentTypeOptions = "nosniff";
        return next(ctx);
    });

    private const string PageCookie = "aisystem_dashboard";

    /// <summary>Call before mapping <c>/metrics</c> and the dashboard page.</summary>
    public static void UseAdminTokenOnMetricsAndDashboard(this WebApplication app)
    {
        var webExposed = app.Services.GetRequiredService<ListenPolicy>().WebExposed;
        app.UseWhen(ctx => ctx.Request.Path.StartsWithSegments("/metrics")
                           || (webExposed && ctx.Request.Path.Equals(DashboardHosting.PagePath, StringComparison.OrdinalIgnoreCase)),
            branch => branch.Use(async (ctx, next) =>
            {
                var token = ctx.RequestServices.GetRequiredService<IOptions<AdminOptions>>().Value.Token;
                var query = ctx.Request.Query["token"].ToString();
                if (DashboardAccess.Allows(token, ctx.Request.Headers.Authorization, query)
                    || DashboardAccess.Allows(token, null, ctx.Request.Cookies[PageCookie]))
                {
                    // The login URL's token, kept for reloading the page (the page drops it from the address bar).
                    if (query.Length > 0 && !string.IsNullOrEmpty(token))
                        ctx.Response.Cookies.Append(PageCookie, query, new CookieOptions
                        {
                            HttpOnly = true, SameSite = SameSiteMode.Strict, Path = DashboardHosting.PagePath, Secure = ctx.Request.IsHttps,
                        });
                    await next(ctx);
                    return;
                }
                ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
                ctx.Response.Headers.WWWAuthenticate = "Bearer";
                await ctx.Response.WriteAsJsonAsync(new
                {
                    error = "This needs the admin token: send 'Authorization: Bearer <token>', or open the login URL the master printed " +
                            "on its console (/dashboard?token=<Admin__Token>).",
                });
            }));
    }
}
