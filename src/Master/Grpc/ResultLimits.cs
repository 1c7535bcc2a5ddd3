using AiSystem.Messages.Grpc;

namespace AiSystem.Master.Grpc;

/// <summary>
/// What one result or chunk may hold. gRPC already refuses a message over 4 MB; these bound each field well below
/// that, so that nobody can make the master keep or pass on more than an answer needs.
/// </summary>
public static class ResultLimits
{
    public const int MaxIdChars = 128;
    /// <summary>An answer of the longest Gemini output (65,536 tokens) is about 260 KB of text.</summary>
    public const int MaxAnswerChars = 1_000_000;
    public const int MaxErrorChars = 8_000;
    public const int MaxProviderChars = 200;
    /// <summary>One streamed piece: workers send a few words at a time.</summary>
    public const int MaxChunkChars = 64_000;

    /// <summary>Why the result is refused, or null when every field is within its bound.</summary>
    public static string? Check(TaskResult r) =>
        Over("worker_id", r.WorkerId, MaxIdChars) ?? Over("task_id", r.TaskId, MaxIdChars) ?? Over("session_id", r.SessionId, MaxIdChars)
        ?? Over("ai_response", r.AiResponse, MaxAnswerChars) ?? Over("error", r.Error, MaxErrorChars)
        ?? Over("provider", r.Provider, MaxProviderChars) ?? Over("original_query", r.OriginalQuery, MaxAnswerChars);

    public static string? Check(TaskChunk c) =>
        Over("worker_id", c.WorkerId, MaxIdChars) ?? Over("task_id", c.TaskId, MaxIdChars) ?? Over("session_id", c.SessionId, MaxIdChars)
        ?? Over("text", c.Text, MaxChunkChars) ?? (c.Result is { } r ? Check(r) : null);

    /// <summary>A key request needs all three ids, each within the id bound.</summary>
    public static string? Check(KeyRequest k) =>
        string.IsNullOrEmpty(k.TaskId) || string.IsNullOrEmpty(k.WorkerId) || string.IsNullOrEmpty(k.SessionId)
            ? "FetchKey needs task_id, worker_id and session_id (the task message's)."
            : k.TaskId.Length > MaxIdChars || k.WorkerId.Length > MaxIdChars || k.SessionId.Length > MaxIdChars
                ? $"FetchKey's ids have at most {MaxIdChars} characters each."
                : null;

    private static string? Over(string field, string value, int max) =>
        value.Length > max ? $"{field} has {value.Length} characters; at most {max} are accepted." : null;
}
