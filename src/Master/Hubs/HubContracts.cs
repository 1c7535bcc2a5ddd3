namespace AiSystem.Master.Hubs;

// The browser contract of PROTOCOL.md §3 (camelCase JSON through SignalR's JSON hub protocol).

public sealed record SubmitQueryRequest(string? Query, string? ApiKey);

public sealed record SubmitQueryResponse(string TaskId, string Status, int? Position);

public sealed record HistoryItem(string TaskId, string Query, string? Response, string? Error, string? WorkerId,
    long? ProcessingTimeMs, string? Provider, long Timestamp, bool? Retryable = null, string? Partial = null);

public sealed record SessionStartedEvent(string SessionId, bool Resumed, IReadOnlyList<HistoryItem> History);

public sealed record TaskQueuedEvent(string TaskId, int Position);

public sealed record TaskAssignedEvent(string TaskId, string WorkerId, int Attempt);

public sealed record AiResponseEvent(string TaskId, string Query, string Response, string WorkerId, string Provider,
    long ProcessingTimeMs, long Timestamp);

/// <summary>Streamed text of attempt <paramref name="Attempt"/>: replaces the answer shown so far from <paramref name="Offset"/> on.</summary>
public sealed record AiResponseChunkEvent(string TaskId, int Attempt, int Offset, string Text);

public sealed record TaskFailedEvent(string TaskId, string Error, bool Retryable);

/// <summary>Event names exactly as the browser listens for them.</summary>
public static class HubEvents
{
    public const string SessionStarted = nameof(SessionStarted);
    public const string TaskQueued = nameof(TaskQueued);
    public const string TaskAssigned = nameof(TaskAssigned);
    public const string AiResponseChunk = nameof(AiResponseChunk);
    public const string AiResponse = nameof(AiResponse);
    public const string TaskFailed = nameof(TaskFailed);
}
