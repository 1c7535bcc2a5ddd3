using AiSystem.Master.Cluster;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Persistence;

namespace AiSystem.Master.Dashboard;

/// <summary>One worker row. <paramref name="Status"/> is idle, busy or gone (removed by the dispatcher moments ago).</summary>
/// <param name="CurrentTaskAgeSeconds">Age of the oldest task the worker holds now; null when it holds none.</param>
/// <param name="LastSeenSecondsAgo">Since the dispatcher last heard of it (heartbeat, status or result).</param>
public sealed record DashboardWorker(string Id, string Status, string ReportedStatus, int ActiveTasks, int Capacity,
    double? CurrentTaskAgeSeconds, long Completed, double LastSeenSecondsAgo, string Provider, string Language, string Host,
    string Version, string? ClusterAddress);

/// <summary>What the dashboard shows once a second (sent to browsers as JSON).</summary>
/// <param name="Error">Why the dispatcher part is missing (the dispatcher did not answer); null when it is there.</param>
/// <param name="Journal">This master's journal, as <c>GET /api/journal</c> shows it; fresh even when the dispatcher is not.</param>
public sealed record DashboardSnapshot(long Timestamp, ClusterView Cluster, DashboardWorker[] Workers, int Queued, int InFlight,
    int Undelivered, AnswerSeriesView? Answers, string? Error, JournalStatus? Journal = null);

/// <summary>
/// Builds the dashboard snapshot from the dispatcher's and the cluster's own views. Remembers the workers it showed
/// last, so a worker the dispatcher removed is shown as gone for <see cref="GoneLinger"/> before its row goes.
/// Not thread-safe: its actor owns it.
/// </summary>
public sealed class DashboardSnapshotBuilder
{
    public static readonly TimeSpan GoneLinger = TimeSpan.FromSeconds(10);

    private Dictionary<string, DashboardWorker> _shown = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (DashboardWorker Row, DateTimeOffset Since)> _gone = new(StringComparer.Ordinal);

    public DashboardSnapshot Build(DateTimeOffset now, ClusterView cluster, DispatchView dispatch, AnswerSeriesView? answers,
        JournalStatus? journal = null)
    {
        var oldestTask = dispatch.Tasks
            .Where(t => t.WorkerId is not null && t.AssignedAt is not null)
            .GroupBy(t => t.WorkerId!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Min(t => t.AssignedAt!.Value), StringComparer.Ordinal);

        var live = dispatch.Workers.Select(w => new DashboardWorker(w.Id, w.Status, w.ReportedStatus, w.ActiveTasks, w.Capacity,
                oldestTask.TryGetValue(w.Id, out var since) ? Seconds(now - since) : null,
                w.Completed, Seconds(now - w.LastSeen), w.Provider, w.Language, w.Host, w.Version, w.ClusterAddress))
            .ToList();
        var liveIds = live.Select(w => w.Id).ToHashSet(StringComparer.Ordinal);

        foreach (var (id, row) in _shown)
            if (!liveIds.Contains(id) && !_gone.ContainsKey(id))
                _gone[id] = (row with { Status = "gone", ActiveTasks = 0, CurrentTaskAgeSeconds = null }, now);
        foreach (var id in _gone.Keys.Where(id => liveIds.Contains(id) || now - _gone[id].Since >= GoneLinger).ToList())
            _gone.Remove(id);
        _shown = live.ToDictionary(w => w.Id, StringComparer.Ordinal);

        var rows = live.Concat(_gone.Values.OrderBy(g => g.Since).Select(g => g.Row)).ToArray();
        var queued = dispatch.Tasks.Count(t => t.State == "queued");
        return new DashboardSnapshot(now.ToUnixTimeMilliseconds(), cluster, rows, queued, dispatch.Tasks.Count - queued,
            dispatch.Undelivered, answers, null, journal);
    }

    /// <summary>
    /// The dispatcher did not answer (it is moving to another master, or restarting after a journal failure): fresh
    /// members and journal, the last dispatcher part known (if any), and why it is not fresh.
    /// </summary>
    public static DashboardSnapshot WithoutDispatcher(DashboardSnapshot? last, DateTimeOffset now, ClusterView cluster, string error,
        JournalStatus? journal = null) =>
        last is null
            ? new(now.ToUnixTimeMilliseconds(), cluster, [], 0, 0, 0, null, error, journal)
            : last with { Timestamp = now.ToUnixTimeMilliseconds(), Cluster = cluster, Error = error, Journal = journal };

    private static double Seconds(TimeSpan span) => Math.Round(Math.Max(0, span.TotalSeconds), 1);
}
