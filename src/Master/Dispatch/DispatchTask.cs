using AiSystem.Master.Sessions;

namespace AiSystem.Master.Dispatch;

/// <summary>Where an open task is in its life at the dispatcher.</summary>
public enum TaskPhase
{
    /// <summary>Waiting in the queue for a free slot.</summary>
    Queued,
    /// <summary>Given to a worker; its result is due before the deadline.</summary>
    InFlight,
    /// <summary>
    /// Recovered after a restart and not dispatchable yet: its text has not come back from its session, or its
    /// worker may still be running it (a result from any worker is taken until it is released to the queue).
    /// </summary>
    Held,
    /// <summary>Answered (or given up); the outcome waits until its session has stored it.</summary>
    Completing,
}

/// <summary>
/// One open task as the dispatcher tracks it. Owned by <see cref="DispatchState"/> and changed only by its
/// <c>Apply</c>. The API key lives only here (in memory) and in the MQTT task; the query is absent for a task
/// recovered from a snapshot until its session sends it again.
/// </summary>
public sealed class DispatchTask(string taskId, string sessionId, long askedAt)
{
    public string TaskId { get; } = taskId;
    public string SessionId { get; } = sessionId;
    /// <summary>When the user asked (epoch ms): the task message's <c>timestamp</c>.</summary>
    public long AskedAt { get; } = askedAt;
    public string? Query { get; internal set; }
    /// <summary>The conversation before the question, oldest first (with the query: absent after a recovery until resent).</summary>
    public IReadOnlyList<Messages.ChatTurn>? History { get; internal set; }
    public string? System { get; internal set; }
    /// <summary>The model the user chose; null: the worker's own.</summary>
    public string? Model { get; internal set; }
    public string ApiKey { get; internal set; } = "";
    public TaskPhase Phase { get; internal set; }
    /// <summary>How many times the task has been given to a worker (1 on the first assignment).</summary>
    public int Attempt { get; internal set; }
    public string? WorkerId { get; internal set; }
    public DateTimeOffset? AssignedAt { get; internal set; }
    /// <summary>When the task goes to another worker if its worker has not answered.</summary>
    public DateTimeOffset? Deadline { get; internal set; }
    /// <summary>The worker that had this task last and lost it; another is preferred next time.</summary>
    public string? PreviousWorkerId { get; internal set; }
    /// <summary>A held task with its text goes to the queue at this time (unless a worker claims it first).</summary>
    public DateTimeOffset? HeldUntil { get; internal set; }
    /// <summary>While completing: the outcome, kept until the session confirms it stored it.</summary>
    public TaskOutcome? Outcome { get; internal set; }
    /// <summary>While completing: when the outcome was last sent to the session.</summary>
    public DateTimeOffset? OutcomeSentAt { get; internal set; }

    public bool HasText => Query is not null;

    public override string ToString() => $"DispatchTask {{ TaskId = {TaskId}, Phase = {Phase}, Attempt = {Attempt}, WorkerId = {WorkerId} }}";
}
