namespace AiSystem.Master.Dispatch;

/// <summary>Tasks waiting for a free worker slot, first come first served; any task can leave from the middle.</summary>
public sealed class TaskQueue
{
    private readonly LinkedList<DispatchTask> _tasks = new();
    private readonly Dictionary<string, LinkedListNode<DispatchTask>> _nodes = new(StringComparer.Ordinal);

    public int Count => _tasks.Count;
    public IEnumerable<DispatchTask> All => _tasks;

    public void Enqueue(DispatchTask task) => _nodes[task.TaskId] = _tasks.AddLast(task);

    /// <summary>Puts a task back at the head, e.g. one whose worker vanished: it has waited longest.</summary>
    public void EnqueueFirst(DispatchTask task) => _nodes[task.TaskId] = _tasks.AddFirst(task);

    public DispatchTask? Peek() => _tasks.First?.Value;

    public bool Contains(DispatchTask task) => _nodes.ContainsKey(task.TaskId);

    /// <summary>Takes the task out wherever it is; false when it was not queued.</summary>
    public bool Remove(DispatchTask task)
    {
        if (!_nodes.Remove(task.TaskId, out var node)) return false;
        _tasks.Remove(node);
        return true;
    }

    /// <summary>1-based position, or 0 when the task is not queued. A walk: only for the task just admitted.</summary>
    public int PositionOf(DispatchTask task)
    {
        if (!_nodes.ContainsKey(task.TaskId)) return 0;
        // A new task is usually at the tail: count from there.
        var position = _tasks.Count;
        for (var node = _tasks.Last; node is not null; node = node.Previous, position--)
            if (ReferenceEquals(node.Value, task)) return position;
        return 0;
    }

    /// <summary>The 1-based position of every queued task, in queue order.</summary>
    public IEnumerable<(DispatchTask Task, int Position)> Positions()
    {
        var position = 0;
        foreach (var task in _tasks)
            yield return (task, ++position);
    }
}
