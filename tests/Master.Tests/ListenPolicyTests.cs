using System.Net;
using AiSystem.Master.Api;
using AiSystem.Master.Configuration;
using AiSystem.Master.Hubs;
using AiSystem.Master.Sessions;
using AiSystem.Messages.Configuration;
using AiSystem.Messages.Mqtt;

namespace AiSystem.Master.Tests;

/// <summary>Closed by default (issue 14): where the master listens and when it refuses to start.</summary>
public class ListenPolicyTests
{
    private static readonly MqttOptions NoCredentials = new();
    private static readonly MqttOptions Credentials = new() { Username = "aisystem", Password = "s3cret" };

    private static ListenPolicy Decide(string web = "", string workers = "", MqttOptions? mqtt = null, bool anonymous = false, string token = "") =>
        ListenPolicy.Decide(new NetworkOptions { Web = web, Workers = workers }, mqtt ?? NoCredentials,
            new SecurityOptions { AllowAnonymousWorkers = anonymous }, token, () => "generated-token");

    [Fact]
    public void Nothing_configured_is_loopback_everywhere_with_no_token_needed()
    {
        var policy = ListenPolicy.Decide(new NetworkOptions(), NoCredentials, new SecurityOptions(), "");
        Assert.Equal(IPAddress.Loopback, policy.WebAddress);
        Assert.Equal(IPAddress.Loopback, policy.WorkersAddress);
        Assert.False(policy.WebExposed);
        Assert.False(policy.WorkersExposed);
        Assert.Empty(policy.Errors);
        Assert.False(policy.TokenGenerated);
        Assert.Equal("", policy.AdminToken);
    }

    [Theory]
    [InlineData("loopback", "127.0.0.1")]
    [InlineData("LOOPBACK", "127.0.0.1")]
    [InlineData("any", "0.0.0.0")]
    [InlineData("10.1.2.3", "10.1.2.3")]
    [InlineData("::1", "::1")]
    [InlineData("127.0.0.2", "127.0.0.2")]
    public void The_words_and_literal_addresses_are_understood(string value, string expected)
    {
        var policy = Decide(web: value, workers: value, mqtt: Credentials, token: "t");
        Assert.Equal(IPAddress.Parse(expected), policy.WebAddress);
        Assert.Equal(IPAddress.Parse(expected), policy.WorkersAddress);
        Assert.Empty(policy.Errors);
    }

    [Fact]
    public void Anything_else_is_refused_naming_the_setting()
    {
        var policy = Decide(web: "everywhere", workers: "localhost:80");
        Assert.Contains(policy.Errors, e => e.Contains("Network__Web") && e.Contains("everywhere"));
        Assert.Contains(policy.Errors, e => e.Contains("Network__Workers") && e.Contains("localhost:80"));
    }

    [Fact]
    public void Workers_beyond_loopback_without_mqtt_credentials_refuse_to_start()
    {
        var error = Assert.Single(Decide(workers: "any").Errors);
        Assert.Contains("Mqtt__Username", error);
        Assert.Contains("Mqtt__Password", error);
        Assert.Contains("Security__AllowAnonymousWorkers", error);
        Assert.NotEmpty(Decide(workers: "any", mqtt: new MqttOptions { Username = "only-a-name" }).Errors);
    }

    [Fact]
    public void Credentials_or_an_explicit_anonymous_choice_let_it_start()
    {
        Assert.Empty(Decide(workers: "any", mqtt: Credentials).Errors);
        Assert.Empty(Decide(workers: "10.0.0.5", anonymous: true).Errors);
        Assert.True(Decide(workers: "any", anonymous: true).WorkersExposed);
    }

    [Theory]
    [InlineData("any", "")]
    [InlineData("", "any")]
    [InlineData("192.168.1.9", "")]
    public void Beyond_loopback_without_a_token_one_is_generated(string web, string workers)
    {
        var policy = Decide(web: web, workers: workers, mqtt: Credentials);
        Assert.True(policy.TokenGenerated);
        Assert.Equal("generated-token", policy.AdminToken);
    }

    [Fact]
    public void A_configured_token_is_kept()
    {
        var policy = Decide(web: "any", token: "mine");
        Assert.False(policy.TokenGenerated);
        Assert.Equal("mine", policy.AdminToken);
        Assert.Equal("mine", Decide(token: "mine").AdminToken); // loopback: used as configured
    }

    [Fact]
    public void A_generated_token_is_32_random_bytes_in_base64url()
    {
        var a = ListenPolicy.NewToken();
        Assert.Equal(43, a.Length); // 32 bytes, no padding
        Assert.Matches("^[A-Za-z0-9_-]+$", a);
        Assert.NotEqual(a, ListenPolicy.NewToken());
    }

    [Fact]
    public void The_login_url_points_at_the_dashboard_with_the_token()
    {
        var any = Decide(web: "any");
        Assert.Equal("http://box:8888/dashboard?token=generated-token", any.LoginUrl(any.LoginHost("box"), 8888));
        var one = Decide(web: "10.0.0.7");
        Assert.Equal("http://10.0.0.7:80/dashboard?token=generated-token", one.LoginUrl(one.LoginHost("box"), 80));
        var v6 = Decide(web: "fd00::1");
        Assert.Equal("http://[fd00::1]:80/dashboard?token=generated-token", v6.LoginUrl(v6.LoginHost("box"), 80));
    }

    [Fact]
    public void The_start_up_line_writes_where_each_listens()
    {
        Assert.Equal("127.0.0.1:8888", ListenPolicy.Describe(IPAddress.Loopback, 8888));
        Assert.Equal("*:8888 (every interface)", ListenPolicy.Describe(IPAddress.Any, 8888));
        Assert.Equal("[::1]:1883", ListenPolicy.Describe(IPAddress.IPv6Loopback, 1883));
    }

    [Fact]
    public void The_content_security_policy_allows_no_inline_script_and_only_this_host()
    {
        var csp = WebSecurity.ContentSecurityPolicy("example:8888");
        Assert.Contains("script-src 'self';", csp);
        Assert.DoesNotContain("unsafe-inline", csp);
        Assert.Contains("connect-src 'self' ws://example:8888 wss://example:8888;", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
    }

    [Theory]
    [InlineData("", "127.0.0.1,::1")]
    [InlineData("loopback", "127.0.0.1,::1")]
    [InlineData("10.1.2.3", "10.1.2.3,127.0.0.1")]
    [InlineData("127.0.0.2", "127.0.0.2")]
    [InlineData("::1", "::1")]
    public void The_worker_listeners_bind_where_Network_Workers_says(string setting, string expected) =>
        Assert.Equal(expected, string.Join(",", Decide(workers: setting, mqtt: Credentials).WorkerListenAddresses().Select(a => a.ToString())));

    [Fact]
    public void Every_interface_for_workers_is_one_dual_mode_listener_where_the_OS_has_IPv6() =>
        Assert.Equal(System.Net.Sockets.Socket.OSSupportsIPv6 ? IPAddress.IPv6Any : IPAddress.Any,
            Assert.Single(Decide(workers: "any", mqtt: Credentials).WorkerListenAddresses()));

    [Fact]
    public void Anonymous_workers_from_anywhere_are_the_operators_explicit_choice()
    {
        Assert.False(Decide(workers: "any", mqtt: Credentials).AllowAnonymousWorkers);
        Assert.True(Decide(workers: "any", anonymous: true).AllowAnonymousWorkers);
    }
}

/// <summary>A browser's key never shows in a log line, whatever prints the message.</summary>
public class ApiKeyRedactionTests
{
    [Fact]
    public void The_hub_request_shows_the_key_as_stars()
    {
        var text = new SubmitQueryRequestDto("What is Swarm?", "AIzaSECRET-1234").ToString();
        Assert.DoesNotContain("AIzaSECRET-1234", text);
        Assert.Contains("ApiKey = ***", text);
        Assert.DoesNotContain("ApiKey", new SubmitQueryRequestDto("What is Swarm?", "").ToString());
    }

    [Fact]
    public void The_session_command_shows_the_key_as_stars()
    {
        var text = new SubmitQuestion("s1", "t1", "What is Swarm?", "AIzaSECRET-1234").ToString();
        Assert.DoesNotContain("AIzaSECRET-1234", text);
        Assert.Contains("ApiKey = ***", text);
        Assert.DoesNotContain("ApiKey", new SubmitQuestion("s1", "t1", "q", null).ToString());
        Assert.DoesNotContain("AIzaSECRET-1234", $"{new SubmitQuestion("s1", "t1", "q", "AIzaSECRET-1234")}"); // interpolation too
    }
}
