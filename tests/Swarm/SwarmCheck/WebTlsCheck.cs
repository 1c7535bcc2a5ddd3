using System.Net;

namespace AiSystem.SwarmCheck;

/// <summary>
/// `web-tls --host H --port P --ca-file F`: the published web port speaks HTTPS only. The page and /healthz/ready answer
/// over HTTPS with a certificate that names the host and chains to the stack's CA; plain HTTP gets no HTTP answer;
/// a client that trusts only the system's CAs refuses the certificate (it is the stack's own, not a public one).
/// </summary>
public static class WebTlsCheck
{
    public static async Task<int> RunAsync(CheckArgs args)
    {
        var host = args.Get("host");
        var port = args.Int("port");
        var ca = new StackCa(args.Get("ca-file"));
        var v = new Verdicts("web-tls");
        var https = $"https://{host}:{port}";

        using (var client = new HttpClient(ca.Handler()) { Timeout = TimeSpan.FromSeconds(15) })
        {
            var page = await TryAsync(() => client.GetStringAsync($"{https}/"));
            v.Expect(page.Value?.Contains("<html", StringComparison.OrdinalIgnoreCase) == true, $"GET {https}/ answers the chat page over HTTPS, certificate checked against the stack's CA", page.Error);
            var ready = await TryAsync(async () => (HttpStatusCode?)(await client.GetAsync($"{https}/healthz/ready")).StatusCode);
            v.Expect(ready.Value == HttpStatusCode.OK, $"GET {https}/healthz/ready is 200 over HTTPS", ready.Error ?? ready.Value?.ToString());
        }

        using (var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
        {
            var answer = await TryAsync(async () => (HttpStatusCode?)(await plain.GetAsync($"http://{host}:{port}/")).StatusCode);
            v.Expect(answer.Value is null, $"plain HTTP to http://{host}:{port}/ gets no HTTP answer",
                answer.Value is { } code ? $"it answered {(int)code}" : answer.Error);
        }

        using (var system = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
        {
            var answer = await TryAsync(async () => (HttpStatusCode?)(await system.GetAsync($"{https}/")).StatusCode);
            v.Expect(answer.Value is null && answer.Error?.Contains("certificate", StringComparison.OrdinalIgnoreCase) == true,
                "a client trusting only the system's CAs refuses the certificate", answer.Value is { } code ? $"it answered {(int)code}" : answer.Error);
        }
        return v.ExitCode;
    }

    private static async Task<(T? Value, string? Error)> TryAsync<T>(Func<Task<T>> call)
    {
        try { return (await call(), null); }
        catch (Exception e) { return (default, $"{e.GetType().Name}: {e.InnerException?.Message ?? e.Message}"); }
    }
}
