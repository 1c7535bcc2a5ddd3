using AiSystem.Messages;

namespace AiSystem.Ctl;

/// <summary>The log levels of <c>upb/logs</c>, lowest first.</summary>
public enum LogLevelRank
{
    Debug = 0,
    Info = 1,
    Warning = 2,
    Error = 3,
}

public static class LogLevels
{
    /// <summary>The names <c>--level</c> accepts.</summary>
    public static readonly string[] Names = ["debug", "info", "warning", "error"];

    /// <summary>
    /// The rank of a level as workers of any language write it (<c>trace</c>/<c>debug</c>, <c>info</c>/<c>information</c>,
    /// <c>warn</c>/<c>warning</c>, <c>error</c>/<c>critical</c>/<c>fatal</c>, any case). A missing or unknown level is info.
    /// </summary>
    public static LogLevelRank Rank(string? level) => level?.Trim().ToLowerInvariant() switch
    {
        "trace" or "debug" or "verbose" => LogLevelRank.Debug,
        "warn" or "warning" => LogLevelRank.Warning,
        "error" or "err" or "critical" or "crit" or "fatal" => LogLevelRank.Error,
        _ => LogLevelRank.Info,
    };

    /// <summary>The five-character label printed on a log line.</summary>
    public static string Label(string? level) => Rank(level) switch
    {
        LogLevelRank.Debug => "DEBUG",
        LogLevelRank.Warning => "WARN ",
        LogLevelRank.Error => "ERROR",
        _ => "INFO ",
    };

    /// <summary>Parses a <c>--level</c> value; null when it is not one of <see cref="Names"/> (or a known synonym).</summary>
    public static LogLevelRank? TryParse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return null;
        var v = value.Trim().ToLowerInvariant();
        return v is "trace" or "debug" or "verbose" or "info" or "information" or "warn" or "warning" or "error" or "critical" or "fatal"
            ? Rank(v)
            : null;
    }
}

/// <summary>Which log lines <c>aictl logs</c> shows: at least <see cref="MinimumLevel"/>, from <see cref="Source"/> (exact or prefix).</summary>
public sealed record LogFilter(LogLevelRank MinimumLevel = LogLevelRank.Debug, string? Source = null)
{
    public bool Matches(LogMessage message) =>
        LogLevels.Rank(message.Level) >= MinimumLevel
        && (string.IsNullOrEmpty(Source) || message.Source.StartsWith(Source, StringComparison.OrdinalIgnoreCase));
}

/// <summary><c>HH:mm:ss.fff LEVEL source: message [task …]</c>.</summary>
public static class LogLineFormatter
{
    public static string Format(LogMessage message, TimeZoneInfo zone)
    {
        var line = $"{Age.ClockTime(message.Timestamp, zone)} {LogLevels.Label(message.Level)} {Text.OneLine(message.Source, 200)}: {Text.OneLine(message.Message)}";
        if (!string.IsNullOrEmpty(message.TaskId)) line += $" [task {Text.OneLine(message.TaskId, 100)}]";
        return line;
    }
}
