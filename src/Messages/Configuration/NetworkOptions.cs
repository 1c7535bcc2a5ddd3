using System.Net;

namespace AiSystem.Messages.Configuration;

/// <summary>
/// The <c>Network</c> section: which interfaces a node listens on. Closed by default: <c>loopback</c>, so nothing is
/// reachable from another machine until the operator says so (<c>any</c>, or one literal IP address).
/// <c>Web</c>: the master's web port (page, SignalR, <c>/api</c>, <c>/metrics</c>). <c>Workers</c>: what workers reach
/// (gRPC, Akka remoting, the embedded MQTT broker); a worker process binds its Akka remoting by it too.
/// </summary>
public sealed class NetworkOptions
{
    public const string Section = "Network";

    public string Web { get; set; } = BindAddress.Loopback;
    public string Workers { get; set; } = BindAddress.Loopback;

    /// <summary>Reads the section (a worker does not bind the whole of it through the Options pattern).</summary>
    public static NetworkOptions From(Microsoft.Extensions.Configuration.IConfiguration config) => new()
    {
        Web = config[$"{Section}:{nameof(Web)}"] is { Length: > 0 } web ? web : BindAddress.Loopback,
        Workers = config[$"{Section}:{nameof(Workers)}"] is { Length: > 0 } workers ? workers : BindAddress.Loopback,
    };
}

/// <summary>A listen setting's words: <c>loopback</c> | <c>any</c> | a literal IP address.</summary>
public static class BindAddress
{
    public const string Loopback = "loopback";
    public const string Any = "any";

    /// <summary>The address to bind, or null (with a message naming <paramref name="setting"/>) when the value is none of those.</summary>
    public static IPAddress? Parse(string? value, string setting, out string? error)
    {
        error = null;
        var v = (value ?? "").Trim();
        if (v.Length == 0 || v.Equals(Loopback, StringComparison.OrdinalIgnoreCase)) return IPAddress.Loopback;
        if (v.Equals(Any, StringComparison.OrdinalIgnoreCase)) return IPAddress.Any;
        if (IPAddress.TryParse(v, out var ip)) return ip;
        error = $"{setting} must be loopback, any or an IP address, got '{value}'.";
        return null;
    }

    /// <summary>Loopback only: 127.0.0.0/8 or ::1, also when written IPv4-mapped (<c>::ffff:127.0.0.1</c>, as a dual-mode socket reports it).</summary>
    public static bool IsLoopback(IPAddress? address) =>
        address is not null && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    /// <summary>How Akka remoting writes it as its bind host name.</summary>
    public static string HostName(IPAddress address) => address.ToString();
}
