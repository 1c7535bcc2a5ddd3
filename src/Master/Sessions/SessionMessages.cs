using AiSystem.Master.Dispatch;

namespace AiSystem.Master.Sessions;

// Messages of the session actors. They stay inside the master process.

/// <summary>Anything addressed to one session, routed by the session shard region.</summary>
public sealed record SessionEnvelope(string SessionId, object Message);

/// <summary>
/// A browser connection arrived at the master at <paramref name="NodeAddress"/>, maybe asking to resume a session.
/// Replies <see cref="Hubs.SessionStartedEvent"/>.
/// </summary>
public sealed record AttachConnection(string? RequestedSessionId, string ConnectionId, string NodeAddress);

public sealed record DetachConnection(string ConnectionId);

/// <summary>A question from the browser. Replies <see cref="SubmitOutcome"/>.</summary>
public sealed record SubmitQuery(string? Query, string? ApiKey);

public sealed record SubmitOutcome(string? TaskId, string? Status, int? Position, string? Error)
{
    public static SubmitOutcome Refused(string error) => new(null, null, null, error);
}

/// <summary>Shutting down: this master's browser push actor finishes what it was given. Replies <see cref="PushesFlushed"/>.</summary>
public sealed record FlushPushes
{
    public static readonly FlushPushes Instance = new();
}

public sealed record PushesFlushed
{
    public static readonly PushesFlushed Instance = new();
}

// From the dispatcher.
public sealed record TaskQueuedNotice(string TaskId, int Position);
public sealed record TaskAssignedNotice(string TaskId, string WorkerId, int Attempt);
/// <summary>Streamed text of a task's current attempt: replaces its answer so far from <paramref name="Offset"/> on (never journaled).</summary>
public sealed record TaskProgressNotice(string TaskId, int Attempt, int Offset, string Text);
/// <summary>A task's outcome (answer or failure); the session stores it and confirms with <see cref="OutcomeStored"/>.</summary>
public sealed record TaskOutcomeNotice(TaskOutcome Outcome);

/// <summary>To the dispatcher: the session has the outcome in its journal.</summary>
public sealed record OutcomeStored(string TaskId);
