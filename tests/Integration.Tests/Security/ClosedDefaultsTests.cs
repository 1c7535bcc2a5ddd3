using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using AiSystem.Integration.Tests.Infrastructure;
using Microsoft.Playwright;

namespace AiSystem.Integration.Tests.Security;

/// <summary>
/// Closed by default (issue 14): a master started with nothing configured listens on loopback only; opening it to other
/// machines needs MQTT credentials and an admin token (generated, with a login URL, when none is configured).
/// </summary>
public sealed class ClosedDefaultsTests : IAsyncLifetime
{
    private MasterProcess? _master;
    private ChildProcess? _refused;
    private Chromium? _chromium;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_master is not null) await _master.DisposeAsync();
        if (_refused is not null) await _refused.DisposeAsync();
        if (_chromium is not null) await _chromium.DisposeAsync();
    }

    private async Task<string> LoginTokenAsync()
    {
        string? url = null;
        await Poll.UntilAsync(() => (url = Regex.Match(_master!.Process.Output, @"http://\S+/dashboard\?token=\S+").Value) != "",
            TimeSpan.FromSeconds(30), "the login URL on the console", () => _master!.Process.Tail());
        Assert.Contains($":{_master!.HttpPort}/dashboard?token=", url);
        return Uri.UnescapeDataString(Regex.Match(url!, @"token=(\S+)").Groups[1].Value);
    }

    [Fact]
    public async Task With_nothing_configured_web_grpc_and_akka_listen_on_loopback_only_and_pages_carry_the_security_headers()
    {
        _master = await MasterProcess.StartAsync(broker: null, localWorkers: 1);
        var pid = _master.Process.Pid;
        await Poll.UntilAsync(() => Listeners.Of(pid).Any(l => l.Port == _master.AkkaPort), TimeSpan.FromSeconds(30),
            "Akka remoting listening", () => _master.Process.Tail());

        var listeners = Listeners.Of(pid);
        foreach (var port in new[] { _master.HttpPort, _master.GrpcPort, _master.AkkaPort, _master.MqttPort })
            Assert.Contains(listeners, l => l.Port == port);
        // Every listener of the process: web, gRPC, remoting (its local worker's too), the embedded broker.
        var open = listeners.Where(l => !IPAddress.IsLoopback(l.Address)).ToList();
        Assert.True(open.Count == 0, $"listening beyond loopback: {string.Join(", ", open)}");

        await Poll.UntilAsync(() => _master.Process.Output.Contains("AiSystem master"), TimeSpan.FromSeconds(10), "the start-up line");
        var startUp = _master.Process.Output.Split('\n').Single(l => l.Contains("AiSystem master"));
        Assert.Contains($"web on 127.0.0.1:{_master.HttpPort}, gRPC on 127.0.0.1:{_master.GrpcPort}", startUp);
        Assert.Contains($"cluster {_master.ClusterAddress} (bound to 127.0.0.1)", startUp);
        Assert.DoesNotContain("/dashboard?token=", _master.Process.Output); // loopback: no token needed, none generated

        foreach (var path in new[] { "/", "/dashboard", "/app.css", "/js/main.js" })
        {
            using var page = await _master.Http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var csp = Header(page, "Content-Security-Policy");
            Assert.Contains("script-src 'self'", csp);
            Assert.DoesNotContain("unsafe-inline", csp);
            Assert.Contains($"connect-src 'self' ws://127.0.0.1:{_master.HttpPort} wss://127.0.0.1:{_master.HttpPort}", csp);
            Assert.Equal("DENY", Header(page, "X-Frame-Options"));
            Assert.Equal("no-referrer", Header(page, "Referrer-Policy"));
            Assert.Equal("nosniff", Header(page, "X-Content-Type-Options"));
        }
    }

    [Fact]
    public async Task Workers_beyond_loopback_without_mqtt_credentials_refuse_to_start_naming_the_settings()
    {
        _refused = MasterProcess.Launch(new Dictionary<string, string?> { ["Network__Workers"] = "any" });
        Assert.True(await _refused.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the master should refuse to start\n" + _refused.Tail());
        await _refused.WaitForOutputAsync();

        Assert.NotEqual(0, _refused.ExitCode);
        var output = _refused.Output;
        Assert.Contains("Mqtt__Username", output);
        Assert.Contains("Security__AllowAnonymousWorkers", output);
        Assert.DoesNotContain("   at ", output); // one clear line, no stack trace
        Assert.DoesNotContain("Unhandled exception", output);
    }

    [Fact]
    public async Task Web_beyond_loopback_without_a_token_generates_one_and_prints_a_login_url_that_opens_the_guarded_paths()
    {
        _master = await MasterProcess.StartAsync(broker: null, localWorkers: 0, new Dictionary<string, string?> { ["Network__Web"] = "any" });
        var token = await LoginTokenAsync();
        Assert.Matches("^[A-Za-z0-9_-]{43}$", token);

        var pid = _master.Process.Pid;
        Assert.Contains(Listeners.Of(pid), l => l.Port == _master.HttpPort && (l.Address.Equals(IPAddress.Any) || l.Address.Equals(IPAddress.IPv6Any)));
        Assert.All(Listeners.Of(pid).Where(l => l.Port == _master.GrpcPort), l => Assert.True(IPAddress.IsLoopback(l.Address), l.ToString()));

        foreach (var path in new[] { "/api/workers", "/metrics", "/dashboard" })
        {
            using (var refused = await _master.Http.GetAsync(path))
                Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            using var request = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", token) } };
            using var allowed = await _master.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        }
        using (var login = await _master.Http.GetAsync($"/dashboard?token={Uri.EscapeDataString(token)}"))
        {
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
            Assert.Contains(login.Headers.GetValues("Set-Cookie"), c => c.Contains("httponly", StringComparison.OrdinalIgnoreCase));
        }
        using (var negotiate = await _master.Http.PostAsync("/hubs/dashboard/negotiate?negotiateVersion=1", null))
            Assert.Equal(HttpStatusCode.Unauthorized, negotiate.StatusCode);
        using (var chat = await _master.Http.GetAsync("/"))
            Assert.Equal(HttpStatusCode.OK, chat.StatusCode); // the chat page stays open to everyone
    }

    [Fact]
    public async Task The_login_url_opens_the_dashboard_live_drops_the_token_from_the_address_bar_and_survives_a_reload()
    {
        _master = await MasterProcess.StartAsync(broker: null, localWorkers: 0, new Dictionary<string, string?> { ["Network__Web"] = "any" });
        var token = await LoginTokenAsync();
        _chromium = await Chromium.LaunchAsync();
        var page = await _chromium.Browser.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") errors.Add(m.Text); }; // a CSP violation shows here
        page.PageError += (_, e) => errors.Add(e);

        await page.GotoAsync($"{_master.BaseUrl}/dashboard?token={Uri.EscapeDataString(token)}");
        await Assertions.Expect(page.Locator("#connection-state")).ToHaveAttributeAsync("data-state", "connected");
        Assert.DoesNotContain("token", page.Url);

        await page.ReloadAsync();
        await Assertions.Expect(page.Locator("#connection-state")).ToHaveAttributeAsync("data-state", "connected");
        Assert.Empty(errors);
    }

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(", ", values)
            : throw new Xunit.Sdk.XunitException($"no {name} header on {response.RequestMessage?.RequestUri}");

    /// <summary>The TCP listening sockets of one process, from /proc: its socket inodes matched in /proc/net/tcp and tcp6.</summary>
    private static class Listeners
    {
        public sealed record Listener(IPAddress Address, int Port)
        {
            public override string ToString() => $"{Address}:{Port}";
        }

        public static IReadOnlyList<Listener> Of(int pid)
        {
            var inodes = new HashSet<string>();
            foreach (var fd in Directory.EnumerateFiles($"/proc/{pid}/fd"))
            {
                try
                {
                    if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("socket:[", StringComparison.Ordinal))
                        inodes.Add(target["socket:[".Length..^1]);
                }
                catch (IOException) { /* closed meanwhile */ }
                catch (UnauthorizedAccessException) { }
            }
            var result = new List<Listener>();
            foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
                foreach (var line in File.ReadLines(table).Skip(1))
                {
                    var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (f.Length < 10 || f[3] != "0A" || !inodes.Contains(f[9])) continue; // 0A = LISTEN
                    var (hex, port) = (f[1].Split(':')[0], int.Parse(f[1].Split(':')[1], NumberStyles.HexNumber));
                    result.Add(new Listener(Parse(hex), port));
                }
            return result;
        }

        // /proc writes each 32-bit word of the address in host (little-endian) byte order.
        private static IPAddress Parse(string hex)
        {
            var bytes = new byte[hex.Length / 2];
            for (var word = 0; word < bytes.Length / 4; word++)
                for (var b = 0; b < 4; b++)
                    bytes[word * 4 + b] = byte.Parse(hex.AsSpan((word * 4 + 3 - b) * 2, 2), NumberStyles.HexNumber);
            var address = new IPAddress(bytes);
            return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        }
    }
}
