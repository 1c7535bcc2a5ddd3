using AiSystem.Master.Serialization;

namespace AiSystem.Master.Dispatch;

/// <summary>
/// The dispatcher's durable form, saved about once a second while anything changes: which tasks are open, where the
/// ones in flight are, and up to which journal position (<paramref name="Watermark"/>, the journal's ordering) this is
/// complete. No question texts and no keys: those belong to the sessions. After a restart, the sessions of these
/// tasks and every session that wrote to the journal after the watermark send their open questions again.
/// </summary>
public sealed record DispatcherSnapshot(long Watermark, IReadOnlyList<OpenTaskRecord> Tasks) : IJournalRecord;

/// <param name="WorkerId">Set while the task is in flight on that worker (with its <paramref name="Deadline"/>, epoch ms).</param>
public sealed record OpenTaskRecord(string TaskId, string SessionId, long AskedAt, int Attempt, string? WorkerId, long? Deadline,
    string? PreviousWorkerId);
