namespace AiSystem.Ctl;

/// <summary>The <c>pbm cluster show</c> layout: <c>address | [roles] | status | reachability | version</c>.</summary>
public static class ClusterShowFormatter
{
    public static IReadOnlyList<string> Format(ClusterState state)
    {
        var table = new TableWriter(header: null, separator: " | ");
        foreach (var m in state.Members.OrderBy(m => m.Address, AkkaAddressComparer.Instance))
            table.AddRow(Text.OneLine(m.Address), Roles(m.Roles), Text.Cell(m.Status), Text.Cell(m.Reachability), Text.Cell(m.AppVersion));
        return [.. table.Lines(), $"Count: {state.Members.Count} nodes"];
    }

    /// <summary><c>[master]</c>, <c>[master,worker]</c>, <c>[]</c>.</summary>
    public static string Roles(IEnumerable<string>? roles) =>
        "[" + string.Join(",", (roles ?? []).Select(r => Text.OneLine(r))) + "]";
}

/// <summary>One line per cluster event: <c>HH:mm:ss.fff  member-up  akka.tcp://...  [worker]</c>.</summary>
public static class ClusterEventFormatter
{
    /// <summary>The longest event name (<c>member-weakly-up</c>), so the addresses line up.</summary>
    private const int EventWidth = 16;

    public static string Format(ClusterEvent e, TimeZoneInfo zone)
    {
        var name = Text.OneLine(e.Event, 40).PadRight(EventWidth);
        var address = e.Address is null
            ? (e.Event == "leader-changed" ? "(no leader)" : "-")
            : Text.OneLine(e.Address, 200);
        var line = $"{Age.ClockTime(e.Timestamp, zone)}  {name}  {address}";
        if (e.Roles is { Count: > 0 }) line += "  " + ClusterShowFormatter.Roles(e.Roles);
        return line;
    }
}

/// <summary>The <c>aictl workers</c> table.</summary>
public static class WorkersFormatter
{
    public static readonly string[] Header = ["ID", "LANGUAGE", "HOST", "STATUS", "SLOTS", "LAST SEEN", "COMPLETED"];

    public static IReadOnlyList<string> Format(IReadOnlyCollection<WorkerInfo> workers, DateTimeOffset now)
    {
        var table = new TableWriter(Header);
        foreach (var w in workers.OrderBy(w => w.Id, StringComparer.Ordinal))
            table.AddRow(Text.Cell(w.Id), Text.Cell(w.Language), Text.Cell(w.Host), Text.Cell(w.Status),
                $"{w.ActiveTasks}/{w.Capacity}", Age.Ago(w.LastSeen, now), w.Completed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return [.. table.Lines(), $"Count: {workers.Count} workers"];
    }
}

/// <summary>The <c>aictl tasks</c> table, in the master's order.</summary>
public static class TasksFormatter
{
    public static readonly string[] Header = ["TASK", "STATE", "WORKER", "ATTEMPT", "POSITION", "AGE"];

    public static IReadOnlyList<string> Format(IReadOnlyCollection<TaskInfo> tasks, DateTimeOffset now)
    {
        var table = new TableWriter(Header);
        foreach (var t in tasks)
            table.AddRow(Text.Cell(t.TaskId), Text.Cell(t.State), Text.Cell(t.WorkerId), t.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture),
                t.Position?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-", Age.Since(t.Timestamp, now));
        var queued = tasks.Count(t => t.IsQueued);
        var inFlight = tasks.Count(t => t.IsInFlight);
        return [.. table.Lines(), $"Count: {tasks.Count} tasks ({queued} queued, {inFlight} in flight)"];
    }
}

/// <summary>The <c>aictl journal</c> table (one row: the master's journal), then its last error.</summary>
public static class JournalFormatter
{
    public static readonly string[] Header =
        ["STATE", "PROVIDER", "WHERE", "LAST WRITE", "FAILED BATCHES", "ROWS WAITING", "ROWS", "BATCHES", "SNAPSHOTS"];

    public static IReadOnlyList<string> Format(JournalInfo journal, DateTimeOffset now, TimeZoneInfo zone)
    {
        static string N(long n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var table = new TableWriter(Header);
        table.AddRow(Text.Cell(journal.State), Text.Cell(journal.Provider), Text.Cell(journal.Location),
            journal.LastSuccessfulWrite is null ? "never" : Age.Ago(journal.LastSuccessfulWrite, now),
            N(journal.ConsecutiveFailedBatches), N(journal.RowsWaiting), N(journal.RowsWritten), N(journal.BatchesWritten), N(journal.SnapshotsWritten));
        return [.. table.Lines(), LastError(journal.LastError, now, zone)];
    }

    /// <summary><c>Last error: none</c>, or <c>Last error: 16:13:20.000 (12s ago) Type: message</c>.</summary>
    public static string LastError(JournalError? error, DateTimeOffset now, TimeZoneInfo zone)
    {
        if (error is null) return "Last error: none";
        var when = error.At is { } at ? $"{Age.ClockTime(at.ToUnixTimeMilliseconds(), zone)} ({Age.Ago(at, now)}) " : "";
        return $"Last error: {when}{Text.OneLine(error.Type, 200)}: {Text.OneLine(error.Message, 300)}";
    }
}
