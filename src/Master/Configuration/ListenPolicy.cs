using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using AiSystem.Messages.Configuration;
using AiSystem.Messages.Mqtt;

namespace AiSystem.Master.Configuration;

/// <summary>
/// Closed by default (issue 14): where the master listens, and whether it may start. Everything on loopback unless
/// <c>Network__Web</c> / <c>Network__Workers</c> say otherwise. Listening for workers beyond loopback needs MQTT
/// credentials (or <c>Security__AllowAnonymousWorkers=true</c>); listening beyond loopback at all needs an admin token,
/// generated here when none is configured (the console shows a one-time login URL).
/// </summary>
public sealed record ListenPolicy(IPAddress WebAddress, IPAddress WorkersAddress, string AdminToken, bool TokenGenerated,
    bool AllowAnonymousWorkers, IReadOnlyList<string> Errors)
{
    /// <summary>The web port (page, SignalR, <c>/api</c>, <c>/dashboard</c>, <c>/metrics</c>) answers other machines.</summary>
    public bool WebExposed => !BindAddress.IsLoopback(WebAddress);
    /// <summary>gRPC, Akka remoting and the embedded MQTT broker answer other machines.</summary>
    public bool WorkersExposed => !BindAddress.IsLoopback(WorkersAddress);

    public static ListenPolicy Decide(NetworkOptions network, MqttOptions mqtt, SecurityOptions security, string adminToken,
        Func<string>? newToken = null)
    {
        var errors = new List<string>();
        var web = BindAddress.Parse(network.Web, "Network__Web", out var webError);
        var workers = BindAddress.Parse(network.Workers, "Network__Workers", out var workersError);
        if (webError is not null) errors.Add(webError);
        if (workersError is not null) errors.Add(workersError);
        web ??= IPAddress.Loopback;
        workers ??= IPAddress.Loopback;

        var workersExposed = !BindAddress.IsLoopback(workers);
        var anonymous = string.IsNullOrEmpty(mqtt.Username) || string.IsNullOrEmpty(mqtt.Password);
        if (workersExposed && anonymous && !security.AllowAnonymousWorkers)
            errors.Add($"Network__Workers is '{network.Workers}' (beyond loopback), so workers from other machines could connect: " +
                "set Mqtt__Username and Mqtt__Password (the broker's credentials), or Security__AllowAnonymousWorkers=true to accept anonymous workers.");

        var exposed = workersExposed || !BindAddress.IsLoopback(web);
        var generated = exposed && string.IsNullOrEmpty(adminToken);
        var token = generated ? (newToken ?? NewToken)() : adminToken;
        return new ListenPolicy(web, workers, token, generated, security.AllowAnonymousWorkers, errors);
    }

    /// <summary>32 random bytes, base64url: the admin token when the operator configured none.</summary>
    public static string NewToken() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// Where a worker-facing listener binds: loopback is both loopback families; every interface is dual-mode IPv6 where
    /// the OS has it; one address gets loopback beside it, where the master's own local workers connect.
    /// </summary>
    public IReadOnlyList<IPAddress> WorkerListenAddresses() => WorkersAddress switch
    {
        var a when BindAddress.IsLoopback(a) => a.Equals(IPAddress.Loopback) ? [IPAddress.Loopback, IPAddress.IPv6Loopback] : [a],
        var a when a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any) => Socket.OSSupportsIPv6 ? [IPAddress.IPv6Any] : [IPAddress.Any],
        var a => [a, IPAddress.Loopback],
    };

    /// <summary>The one-time login URL shown on the console, Jupyter-style: the dashboard keeps the token for its tab.</summary>
    public string LoginUrl(string host, int httpPort, string scheme = "http") =>
        $"{scheme}://{(host.Contains(':') ? $"[{host}]" : host)}:{httpPort}/dashboard?token={Uri.EscapeDataString(AdminToken)}";

    /// <summary>The host to put in the login URL: the bound address, or this machine's name when bound to all.</summary>
    public string LoginHost(string machineName) =>
        WebAddress.Equals(IPAddress.Any) || WebAddress.Equals(IPAddress.IPv6Any) ? machineName : WebAddress.ToString();

    /// <summary>How the start-up line writes a bound address.</summary>
    public static string Describe(IPAddress address, int port) =>
        address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) ? $"*:{port} (every interface)"
        : address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]:{port}" : $"{address}:{port}";
}
