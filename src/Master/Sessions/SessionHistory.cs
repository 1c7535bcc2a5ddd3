using AiSystem.Master.Dispatch;
using AiSystem.Master.Hubs;

namespace AiSystem.Master.Sessions;

/// <summary>One session's questions and their outcomes, in the order they were asked, at most <c>maxItems</c> of them.</summary>
public sealed class SessionHistory(int maxItems = int.MaxValue)
{
    private readonly List<HistoryItem> _items = [];

    public IReadOnlyList<HistoryItem> Items => _items;
    public int Pending => _items.Count(i => i.Response is null && i.Error is null);

    /// <summary>Adds a question; false when it is already there (an outcome may have arrived first).</summary>
    public bool Add(string taskId, string query, long timestamp)
    {
        if (IndexOf(taskId) >= 0) return false;
        _items.Add(new HistoryItem(taskId, query, null, null, null, null, null, timestamp));
        Trim();
        return true;
    }

    public HistoryItem? Find(string taskId) => IndexOf(taskId) is var at and >= 0 ? _items[at] : null;

    /// <summary>True when this task has no outcome yet here (so recording it changes something).</summary>
    public bool Needs(TaskOutcome outcome) => Find(outcome.TaskId) is not { } item || (item.Response is null && item.Error is null);

    /// <summary>Records an outcome; a task the history never saw asked (its question was not stored yet) is added.</summary>
    public bool Record(TaskOutcome o)
    {
        if (!Needs(o)) return false;
        var at = IndexOf(o.TaskId);
        var item = at >= 0 ? _items[at] : new HistoryItem(o.TaskId, o.Query, null, null, null, null, null, o.CompletedAt);
        item = item with
        {
            Response = o.Response, Error = o.Error, Retryable = o.Error is null ? null : o.Retryable,
            WorkerId = string.IsNullOrEmpty(o.WorkerId) ? null : o.WorkerId, ProcessingTimeMs = o.ProcessingTimeMs,
            Provider = string.IsNullOrEmpty(o.Provider) ? null : o.Provider,
        };
        if (at >= 0) _items[at] = item;
        else
        {
            _items.Add(item);
            Trim();
        }
        return true;
    }

    public void Restore(IEnumerable<HistoryItem> items)
    {
        _items.Clear();
        _items.AddRange(items);
        Trim();
    }

    // Sessions are short lists (bounded by Sessions__MaxHistory): a scan is cheaper than keeping an index in step.
    private int IndexOf(string taskId) => _items.FindLastIndex(i => i.TaskId == taskId);

    private void Trim()
    {
        // The oldest finished items go first; questions still waiting for an answer are kept.
        while (_items.Count > maxItems && _items.FindIndex(i => i.Response is not null || i.Error is not null) is var at and >= 0)
            _items.RemoveAt(at);
    }
}
