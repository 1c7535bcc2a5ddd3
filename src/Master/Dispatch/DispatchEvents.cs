using AiSystem.Master.Sessions;

namespace AiSystem.Master.Dispatch;

// What happened at the dispatcher. The decisions of DispatchState raise these; its Apply is the only code that
// changes the state, and the actor derives everything it does (MQTT publishes, notices to sessions, logs, metrics)
// from the same events. They live in memory only: the dispatcher's durable form is its snapshot (DispatcherSnapshot),
// because every fact about a question itself is journaled once, by its session.

public abstract record DispatchEvent;

/// <summary>A new task joined: queued at the tail, or held when it was recovered.</summary>
public sealed record TaskAccepted(DispatchTask Task) : DispatchEvent;

/// <summary>A task recovered without its text got it back from its session (resubmitted).</summary>
public sealed record TaskTextRestored(string TaskId, TaskRequest Request) : DispatchEvent;

/// <summary>A task was given to a worker slot.</summary>
public sealed record TaskAssigned(string TaskId, string WorkerId, int Attempt, DateTimeOffset AssignedAt, DateTimeOffset Deadline) : DispatchEvent;

/// <summary>A worker that may have been running a held task since before a restart claimed it (heartbeat or result).</summary>
public sealed record TaskClaimed(string TaskId, string WorkerId, DateTimeOffset Deadline) : DispatchEvent;

/// <summary>A task was taken from its worker (gone, silent, late) and goes to the head of the queue.</summary>
public sealed record TaskReturned(string TaskId, string Reason) : DispatchEvent;

/// <summary>The task's MQTT publish failed: it never reached the worker and goes back unchanged (same attempt).</summary>
public sealed record TaskUnpublished(string TaskId) : DispatchEvent;

/// <summary>A held task is released to the head of the queue (nobody claimed it during the grace period).</summary>
public sealed record TaskReleased(string TaskId) : DispatchEvent;

/// <summary>A worker's result was accepted; the slot is free and the outcome waits for its session.</summary>
public sealed record TaskCompleted(string TaskId, TaskOutcome Outcome) : DispatchEvent;

/// <summary>The task had its attempts: it fails for good, and the failure waits for its session like an answer.</summary>
public sealed record TaskGaveUp(string TaskId, TaskOutcome Outcome) : DispatchEvent;

/// <summary>The outcome was (re)sent to the session at this time.</summary>
public sealed record OutcomeSent(string TaskId, DateTimeOffset At) : DispatchEvent;

/// <summary>
/// After a restart, a result came for a task that its session has not sent again yet: it is kept until
/// <paramref name="Until"/> (the end of the recovery grace), to become the outcome the moment the question comes back.
/// </summary>
public sealed record ResultKept(WorkerResult Result, DateTimeOffset Until) : DispatchEvent;

/// <summary>The grace ended and no session sent that question again: the kept result is dropped (and refused).</summary>
public sealed record KeptResultDropped(string TaskId) : DispatchEvent;

/// <summary>The session stored the outcome: the task is finished and remembered for a while to drop late duplicates.</summary>
public sealed record TaskFinished(string TaskId) : DispatchEvent;

/// <summary>
/// The session gave the task up (its question was never stored, or the user stopped it): it leaves without an outcome.
/// <paramref name="WorkerId"/>: the worker that was running it, to be told to stop (its slot is free at once).
/// </summary>
public sealed record TaskCancelled(string TaskId, string? WorkerId = null, int Attempt = 0) : DispatchEvent;

/// <summary>A worker (re)registered, or was taken in from a status or heartbeat.</summary>
public sealed record WorkerJoined(string WorkerId, int Capacity, WorkerDescription Description, bool Again) : DispatchEvent;

/// <summary>A worker showed a sign of life.</summary>
public sealed record WorkerSeen(string WorkerId, string? ReportedStatus, bool Draining = false) : DispatchEvent;

/// <summary>A worker is gone; <paramref name="SaidGoodbye"/>: it left (offline) rather than fell silent or was removed.</summary>
public sealed record WorkerLost(string WorkerId, string Reason, bool SaidGoodbye, int TasksReturned) : DispatchEvent;

/// <summary>The master's own broker connection came up or went down.</summary>
public sealed record BrokerConnectionChanged(bool Connected) : DispatchEvent;

/// <summary>The master itself stood still for <paramref name="Lost"/>: every worker and deadline moves forward by it.</summary>
public sealed record DispatcherPaused(TimeSpan Lost) : DispatchEvent;

/// <summary>What a registration says about a worker, beyond its id and capacity.</summary>
public sealed record WorkerDescription(string Language = "", string Host = "", string Version = "", string Provider = "",
    string? ClusterAddress = null, TimeSpan? HeartbeatInterval = null, bool FetchesKeys = false);
