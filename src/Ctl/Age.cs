using System.Globalization;

namespace AiSystem.Ctl;

/// <summary>Short, human ages: <c>0.4s</c>, <c>12s</c>, <c>3m</c>, <c>5h</c>, <c>2d</c>.</summary>
public static class Age
{
    /// <summary>
    /// Under 10 s with one decimal (<c>0.4s</c>, <c>9.9s</c>), then whole seconds up to a minute, whole minutes up
    /// to an hour, whole hours up to a day, whole days. Negative spans (clocks that disagree) count as zero.
    /// </summary>
    public static string Format(TimeSpan span)
    {
        if (span < TimeSpan.Zero) span = TimeSpan.Zero;
        if (span.TotalSeconds < 10)
        {
            // Truncate, so 9.96 s shows as 9.9s and not 10.0s.
            var tenths = Math.Floor(span.TotalSeconds * 10) / 10;
            return tenths.ToString("0.0", CultureInfo.InvariantCulture) + "s";
        }
        if (span.TotalMinutes < 1) return $"{(int)span.TotalSeconds}s";
        if (span.TotalHours < 1) return $"{(int)span.TotalMinutes}m";
        if (span.TotalDays < 1) return $"{(int)span.TotalHours}h";
        return $"{(int)span.TotalDays}d";
    }

    /// <summary><c>12s ago</c>; <c>-</c> when <paramref name="then"/> is unknown.</summary>
    public static string Ago(DateTimeOffset? then, DateTimeOffset now) =>
        then is null ? "-" : Format(now - then.Value) + " ago";

    /// <summary>The age of an epoch-milliseconds timestamp; <c>-</c> when it is 0 (unknown).</summary>
    public static string Since(long epochMs, DateTimeOffset now) =>
        epochMs <= 0 ? "-" : Format(now - DateTimeOffset.FromUnixTimeMilliseconds(epochMs));

    /// <summary><c>HH:mm:ss.fff</c> of an epoch-milliseconds timestamp in <paramref name="zone"/>.</summary>
    public static string ClockTime(long epochMs, TimeZoneInfo zone)
    {
        DateTimeOffset utc;
        try { utc = DateTimeOffset.FromUnixTimeMilliseconds(epochMs); }
        catch (ArgumentOutOfRangeException) { return "??:??:??.???"; }
        return TimeZoneInfo.ConvertTime(utc, zone).ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
    }
}
