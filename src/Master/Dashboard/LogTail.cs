using AiSystem.Messages;

namespace AiSystem.Master.Dashboard;

/// <summary>One line of the dashboard's log tail. <paramref name="Seq"/> rises by one per line this master received.</summary>
public sealed record DashboardLogLine(long Seq, long Timestamp, string Source, string Level, string Message, string? TaskId, string? SessionId)
{
    public const int MaxMessageLength = 4000;
    private const int MaxFieldLength = 100;

    /// <summary>A line from <c>upb/logs</c> as the page shows it: level one of debug/info/warning/error, long text cut.</summary>
    public static DashboardLogLine From(long seq, LogMessage m) => new(
        seq,
        m.Timestamp,
        Cut(m.Source, MaxFieldLength),
        NormalizeLevel(m.Level),
        Cut(m.Message, MaxMessageLength),
        m.TaskId is null ? null : Cut(m.TaskId, MaxFieldLength),
        m.SessionId is null ? null : Cut(m.SessionId, MaxFieldLength));

    public static string NormalizeLevel(string? level) => level?.Trim().ToLowerInvariant() switch
    {
        "trace" or "debug" or "verbose" => "debug",
        "warn" or "warning" => "warning",
        "error" or "err" or "critical" or "fatal" => "error",
        _ => "info", // absent or unknown: shown with the ordinary lines
    };

    private static string Cut(string text, int max) => text.Length <= max ? text : text[..max] + "…";
}

/// <summary>The last <see cref="Capacity"/> log lines, for a dashboard that connects now. Not thread-safe: its actor owns it.</summary>
public sealed class LogTail(int capacity = LogTail.DefaultCapacity)
{
    public const int DefaultCapacity = 500;
    private readonly Queue<DashboardLogLine> _lines = new();

    public int Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity), "The tail must hold at least one line.");
    public int Count => _lines.Count;

    public void AddRange(IEnumerable<DashboardLogLine> lines)
    {
        foreach (var line in lines)
        {
            if (_lines.Count == Capacity) _lines.Dequeue();
            _lines.Enqueue(line);
        }
    }

    public DashboardLogLine[] ToArray() => [.. _lines];
}
