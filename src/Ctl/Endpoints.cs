using System.Globalization;

namespace AiSystem.Ctl;

/// <summary>Parses the addresses the operator types: <c>--master</c>, <c>--broker</c>, <c>--duration</c>.</summary>
public static class Endpoints
{
    public const string DefaultMaster = "http://localhost:8888";
    public const string DefaultBroker = "localhost:1883";

    /// <summary>
    /// <c>http://host:port</c>, <c>https://...</c>, or <c>host:port</c> (http assumed); a path is kept as the base
    /// (a master behind a reverse proxy under <c>/ai</c>). Throws <see cref="CtlException"/> on anything else.
    /// </summary>
    public static Uri ParseMaster(string? value)
    {
        var text = value?.Trim() ?? "";
        if (text.Length == 0) text = DefaultMaster;
        if (!text.Contains("://", StringComparison.Ordinal)) text = "http://" + text;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || string.IsNullOrEmpty(uri.Host) || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
            throw new CtlException($"'{Text.OneLine(value, 100)}' is not a master URL; use --master http://host:port (e.g. {DefaultMaster}).", 2);
        var path = uri.AbsolutePath.TrimEnd('/') + "/";
        return new UriBuilder(uri) { Path = path }.Uri;
    }

    /// <summary>The master's base URL as printed in messages: no trailing slash.</summary>
    public static string Display(Uri master) => master.GetLeftPart(UriPartial.Path).TrimEnd('/');

    /// <summary><c>host</c>, <c>host:port</c>, <c>[::1]:port</c>, with an optional <c>mqtt://</c> or <c>tcp://</c> in front.</summary>
    public static (string Host, int Port) ParseBroker(string? value)
    {
        var text = (value ?? "").Trim();
        if (text.Length == 0) text = DefaultBroker;
        foreach (var scheme in new[] { "mqtt://", "tcp://" })
            if (text.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) text = text[scheme.Length..];
        text = text.TrimEnd('/');

        string host;
        string? port = null;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']');
            if (close < 0) throw BadBroker(value);
            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (!rest.StartsWith(':')) throw BadBroker(value);
                port = rest[1..];
            }
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon >= 0 && text.IndexOf(':') != colon) throw BadBroker(value); // bare IPv6 needs [brackets]
            host = colon >= 0 ? text[..colon] : text;
            port = colon >= 0 ? text[(colon + 1)..] : null;
        }
        if (host.Length == 0 || host.Any(c => char.IsWhiteSpace(c) || c == '/')) throw BadBroker(value);
        var number = 1883;
        if (port is not null && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out number) || number is < 1 or > 65535))
            throw BadBroker(value);
        return (host, number);
    }

    private static CtlException BadBroker(string? value) =>
        new($"'{Text.OneLine(value, 100)}' is not a broker address; use --broker host:port (e.g. {DefaultBroker}).", 2);

    /// <summary><c>3s</c>, <c>500ms</c>, <c>2m</c>, <c>1h</c>, a plain number of seconds (<c>2.5</c>), or <c>hh:mm:ss</c>.</summary>
    public static bool TryParseDuration(string? value, out TimeSpan duration)
    {
        duration = default;
        var text = (value ?? "").Trim().ToLowerInvariant();
        if (text.Length == 0) return false;
        double factor;
        if (text.EndsWith("ms", StringComparison.Ordinal)) { factor = 0.001; text = text[..^2]; }
        else if (text.EndsWith('s')) { factor = 1; text = text[..^1]; }
        else if (text.EndsWith('m')) { factor = 60; text = text[..^1]; }
        else if (text.EndsWith('h')) { factor = 3600; text = text[..^1]; }
        else if (text.Contains(':')) return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration) && duration > TimeSpan.Zero;
        else factor = 1;
        if (!double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)) return false;
        var seconds = number * factor;
        if (seconds <= 0 || seconds > TimeSpan.FromDays(1).TotalSeconds) return false;
        duration = TimeSpan.FromSeconds(seconds);
        return true;
    }
}
