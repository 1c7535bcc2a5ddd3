namespace AiSystem.Master.Dispatch;

/// <summary>What the dispatcher knows of one worker. Slots are counted from the tasks the dispatcher gave it.</summary>
public sealed class WorkerInfo
{
    public required string Id { get; init; }
    public WorkerDescription Description { get; set; } = new();
    public int Capacity { get; set; } = 1;
    /// <summary>What the worker last said of itself (idle/busy/offline).</summary>
    public string ReportedStatus { get; set; } = Messages.WorkerStatuses.Idle;
    public DateTimeOffset RegisteredAt { get; init; }
    public DateTimeOffset LastSeen { get; set; }
    public long Completed { get; set; }
    /// <summary>Order of registration, to break ties deterministically.</summary>
    public long Sequence { get; init; }
    public HashSet<string> ActiveTasks { get; } = new(StringComparer.Ordinal);

    /// <summary>Shutting down (it said so): it finishes what it has and gets nothing new, until it registers again.</summary>
    public bool Draining { get; set; }
    public int FreeSlots => Draining ? 0 : Math.Max(0, Capacity - ActiveTasks.Count);
    public string Status => ActiveTasks.Count == 0 ? Messages.WorkerStatuses.Idle : Messages.WorkerStatuses.Busy;
}

/// <summary>The workers the dispatcher can hand tasks to. Plain state: the dispatcher state owns the only instance.</summary>
public sealed class WorkerRegistry
{
    /// <summary>Registrations announcing more slots than this are clamped: a typo must not flood one worker.</summary>
    public const int MaxCapacity = 1024;

    private readonly Dictionary<string, WorkerInfo> _workers = new(StringComparer.Ordinal);
    private long _sequence;

    public int Count => _workers.Count;
    public IEnumerable<WorkerInfo> All => _workers.Values;

    public WorkerInfo? Find(string workerId) => _workers.GetValueOrDefault(workerId);

    /// <summary>Adds a worker, or refreshes one that registers again (a reconnect keeps its in-flight tasks).</summary>
    public WorkerInfo Register(string workerId, int capacity, DateTimeOffset now, WorkerDescription description)
    {
        if (!_workers.TryGetValue(workerId, out var worker))
        {
            worker = new WorkerInfo { Id = workerId, RegisteredAt = now, Sequence = ++_sequence };
            _workers.Add(workerId, worker);
        }
        worker.Capacity = Math.Clamp(capacity, 1, MaxCapacity);
        worker.LastSeen = now;
        worker.ReportedStatus = Messages.WorkerStatuses.Idle;
        worker.Draining = false;
        worker.Description = description;
        return worker;
    }

    public bool Remove(string workerId, out WorkerInfo? worker) => _workers.Remove(workerId, out worker);

    /// <summary>
    /// The worker with the most free slots; ties go to the one registered first. <paramref name="avoid"/> (the worker
    /// that already failed this task) is taken only when no other has a free slot. Null when all are full.
    /// </summary>
    public WorkerInfo? PickWorker(string? avoid = null)
    {
        WorkerInfo? best = null;
        foreach (var w in _workers.Values)
        {
            if (w.FreeSlots == 0 || w.Id == avoid) continue;
            if (best is null || w.FreeSlots > best.FreeSlots || (w.FreeSlots == best.FreeSlots && w.Sequence < best.Sequence))
                best = w;
        }
        return best ?? (avoid is not null && Find(avoid) is { FreeSlots: > 0 } fallback ? fallback : null);
    }
}
