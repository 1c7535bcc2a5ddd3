using AiSystem.Master.Hubs;
using AiSystem.Messages.Grpc;

namespace AiSystem.Master.Sessions;

/// <summary>One session's questions and their outcomes, in the order they were asked.</summary>
public sealed class SessionHistory
{
    private readonly List<HistoryItem> _items = [];
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

    public IReadOnlyList<HistoryItem> Items => _items;
    public int Pending => _items.Count(i => i.Response is null && i.Error is null);

    public void Add(string taskId, string query, long timestamp)
    {
        _index[taskId] = _items.Count;
        _items.Add(new HistoryItem(taskId, query, null, null, null, null, null, timestamp));
    }

    public void Remove(string taskId)
    {
        if (!_index.Remove(taskId, out var at)) return;
        _items.RemoveAt(at);
        for (var i = at; i < _items.Count; i++) _index[_items[i].TaskId] = i;
    }

    public HistoryItem? Find(string taskId) => _index.TryGetValue(taskId, out var at) ? _items[at] : null;

    /// <summary>Records a worker's result; false when the task is unknown or already has an outcome.</summary>
    public bool Complete(string taskId, TaskResult result) => Record(taskId, item => string.IsNullOrEmpty(result.Error)
        ? item with { Response = result.AiResponse, WorkerId = result.WorkerId, ProcessingTimeMs = result.ProcessingTimeMs, Provider = result.Provider }
        : item with
        {
            Error = result.Error, Retryable = !result.PermanentError, WorkerId = result.WorkerId,
            ProcessingTimeMs = result.ProcessingTimeMs, Provider = result.Provider,
        });

    /// <summary>Records a failure decided by the master (no worker could answer); false when already decided.</summary>
    public bool Fail(string taskId, string error, bool retryable) =>
        Record(taskId, item => item with { Error = error, Retryable = retryable });

    private bool Record(string taskId, Func<HistoryItem, HistoryItem> outcome)
    {
        if (!_index.TryGetValue(taskId, out var at)) return false;
        var item = _items[at];
        if (item.Response is not null || item.Error is not null) return false;
        _items[at] = outcome(item);
        return true;
    }
}
