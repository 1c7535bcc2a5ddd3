namespace AiSystem.Master.Dispatch;

/// <summary>Tasks waiting for a free worker slot, first come first served.</summary>
public sealed class TaskQueue
{
    private readonly LinkedList<DispatchTask> _tasks = new();

    public int Count => _tasks.Count;
    public IEnumerable<DispatchTask> All => _tasks;

    public void Enqueue(DispatchTask task) => _tasks.AddLast(task);

    /// <summary>Puts a task back at the head, e.g. one whose worker vanished: it has waited longest.</summary>
    public void EnqueueFirst(DispatchTask task) => _tasks.AddFirst(task);

    public DispatchTask? Peek() => _tasks.First?.Value;

    public bool TryDequeue(out DispatchTask task)
    {
        if (_tasks.First is { } first)
        {
            task = first.Value;
            _tasks.RemoveFirst();
            return true;
        }
        task = null!;
        return false;
    }

    /// <summary>The 1-based position of every queued task, in queue order.</summary>
    public IEnumerable<(DispatchTask Task, int Position)> Positions()
    {
        var position = 0;
        foreach (var task in _tasks)
            yield return (task, ++position);
    }
}
