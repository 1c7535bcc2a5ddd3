using AiSystem.Master.Serialization;

namespace AiSystem.Master.Sessions;

// What a session writes to its journal: each question once, and its outcome once. These are the only journal events
// of a question's life (the dispatcher journals none), and they are separate from the hub's records (Hubs/HubContracts):
// renaming what the browser sees must never break the recovery of old journals.

public interface ISessionEvent : IJournalRecord
{
    string TaskId { get; }
}

/// <summary>The user asked; from now on the question gets exactly one answer or one failure.</summary>
public sealed record QuestionAsked(string TaskId, string Query, long AskedAt) : ISessionEvent;

public sealed record QuestionAnswered(string TaskId, string Answer, string WorkerId, string Provider, long ProcessingTimeMs, long AnsweredAt)
    : ISessionEvent;

/// <param name="Retryable">False when asking again will not help (invalid key, blocked question).</param>
public sealed record QuestionFailed(string TaskId, string Error, bool Retryable, string? WorkerId, long FailedAt) : ISessionEvent;

/// <summary>A session's questions with their outcomes, oldest first (at most <c>Sessions__MaxHistory</c>).</summary>
public sealed record SessionSnapshot(IReadOnlyList<QuestionRecord> Questions) : IJournalRecord;

/// <summary>One question of a session and, once it has one, its outcome.</summary>
public sealed record QuestionRecord(string TaskId, string Query, long AskedAt, string? Answer = null, string? Error = null,
    bool? Retryable = null, string? WorkerId = null, string? Provider = null, long? ProcessingTimeMs = null, long? FinishedAt = null)
{
    public bool IsOpen => Answer is null && Error is null;
}
