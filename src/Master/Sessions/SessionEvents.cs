using AiSystem.Master.Serialization;

namespace AiSystem.Master.Sessions;

// What a session writes to its journal: each question once, and its outcome once. These are the only journal events
// of a question's life (the dispatcher journals none), and they are separate from the hub's records (Hubs/HubContracts):
// renaming what the browser sees must never break the recovery of old journals.

public interface ISessionEvent : IJournalRecord
{
    string TaskId { get; }
}

/// <summary>The user asked; from now on the question gets exactly one answer, one failure or one stop.</summary>
/// <param name="Replaces">Regenerate or edit: the last turn this one takes the place of (it stays, as an alternate).</param>
/// <param name="Model">The model the user chose (one of <c>Llm__Models</c>); null: the workers' own.</param>
public sealed record QuestionAsked(string TaskId, string Query, long AskedAt, string? Replaces = null, string? Model = null) : ISessionEvent;

/// <param name="PromptTokens">The model's own counts, when the worker reported them (older workers do not).</param>
public sealed record QuestionAnswered(string TaskId, string Answer, string WorkerId, string Provider, long ProcessingTimeMs, long AnsweredAt,
    int? PromptTokens = null, int? OutputTokens = null) : ISessionEvent;

/// <summary>The user stopped the question: <paramref name="Text"/> is what had streamed by then, kept as its stopped answer.</summary>
public sealed record QuestionCancelled(string TaskId, string Text, long CancelledAt) : ISessionEvent;

/// <param name="Retryable">False when asking again will not help (invalid key, blocked question).</param>
public sealed record QuestionFailed(string TaskId, string Error, bool Retryable, string? WorkerId, long FailedAt) : ISessionEvent;

/// <summary>A session's questions with their outcomes, oldest first (at most <c>Sessions__MaxHistory</c>).</summary>
public sealed record SessionSnapshot(IReadOnlyList<QuestionRecord> Questions) : IJournalRecord;

/// <summary>One question of a session and, once it has one, its outcome.</summary>
/// <param name="Cancelled">Stopped by the user: <paramref name="Answer"/> is the text that had streamed by then.</param>
/// <param name="Replaces">The turn this one took the place of (regenerate, edit).</param>
/// <param name="ReplacedBy">The turn that took this one's place: no longer part of the conversation's context.</param>
public sealed record QuestionRecord(string TaskId, string Query, long AskedAt, string? Answer = null, string? Error = null,
    bool? Retryable = null, string? WorkerId = null, string? Provider = null, long? ProcessingTimeMs = null, long? FinishedAt = null,
    bool? Cancelled = null, string? Replaces = null, string? ReplacedBy = null, string? Model = null, int? PromptTokens = null,
    int? OutputTokens = null)
{
    public bool IsOpen => Answer is null && Error is null;

    /// <summary>A finished answer that counts as a turn of the conversation (not failed, not stopped, not replaced).</summary>
    public bool IsContext => Answer is not null && Error is null && Cancelled != true && ReplacedBy is null;
}
