namespace AiSystem.Ctl;

/// <summary>
/// Orders Akka addresses (<c>akka.tcp://system@host:port</c>) by protocol, system, host, then port as a number,
/// so <c>host:4053</c> comes before <c>host:40123</c>. Text that is not an address sorts by ordinal after them.
/// </summary>
public sealed class AkkaAddressComparer : IComparer<string?>
{
    public static readonly AkkaAddressComparer Instance = new();

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y)) return 0;
        if (x is null) return -1;
        if (y is null) return 1;
        var a = TryParse(x);
        var b = TryParse(y);
        if (a is null || b is null)
            return a is not null ? -1 : b is not null ? 1 : string.CompareOrdinal(x, y);
        int c;
        if ((c = string.CompareOrdinal(a.Value.Protocol, b.Value.Protocol)) != 0) return c;
        if ((c = string.CompareOrdinal(a.Value.System, b.Value.System)) != 0) return c;
        if ((c = string.Compare(a.Value.Host, b.Value.Host, StringComparison.OrdinalIgnoreCase)) != 0) return c;
        if ((c = a.Value.Port.CompareTo(b.Value.Port)) != 0) return c;
        return string.CompareOrdinal(x, y);
    }

    /// <summary>Splits <c>protocol://system@host:port</c>; null when <paramref name="address"/> has not that shape.</summary>
    public static (string Protocol, string System, string Host, int Port)? TryParse(string address)
    {
        var scheme = address.IndexOf("://", StringComparison.Ordinal);
        if (scheme <= 0) return null;
        var rest = address[(scheme + 3)..];
        var at = rest.IndexOf('@');
        if (at <= 0) return null;
        var hostPort = rest[(at + 1)..].TrimEnd('/');
        var colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(hostPort[(colon + 1)..], out var port) || port is < 0 or > 65535) return null;
        var host = hostPort[..colon];
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        return (address[..scheme], rest[..at], host, port);
    }
}
