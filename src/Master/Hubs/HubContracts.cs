using System.Text.Json.Serialization;
using AiSystem.Master.Serialization;

namespace AiSystem.Master.Hubs;

// The browser contract of docs/protocol.md §5 (camelCase JSON through SignalR's JSON hub protocol). These records are
// what a page receives, and what a session sends across the cluster to the master holding the page's connection.

/// <param name="TaskId">Optional: the page's own id for the question (a UUID). Sending it again is the same question.</param>
/// <param name="Replaces">Optional: regenerate or edit; the task id of the conversation's last turn, which this one takes the place of.</param>
/// <param name="Model">Optional: one of <see cref="SessionStartedDto.Models"/>.</param>
public sealed record SubmitQueryRequestDto(string? Query, string? ApiKey, string? TaskId = null, string? Replaces = null, string? Model = null)
{
    public override string ToString() =>
        $"SubmitQueryRequestDto {{ TaskId = {TaskId}, Query = {Query?.Length ?? 0} chars{(string.IsNullOrEmpty(ApiKey) ? "" : ", ApiKey = ***")}, Replaces = {Replaces}, Model = {Model} }}";
}

/// <summary>What <c>CancelTask</c> returns: <paramref name="Status"/> cancelled, or answered/failed when the question had already ended.</summary>
public sealed record CancelTaskResponseDto(string TaskId, string Status);

/// <summary>
/// Where the question stands when it is stored. The asking connection learns its assignment from here (WorkerId and
/// Attempt with status assigned): its session pushes no TaskAccepted and no first TaskAssigned/TaskQueued to it.
/// </summary>
public sealed record SubmitQueryResponseDto(string TaskId, string Status, int? Position, string? WorkerId = null, int? Attempt = null);

/// <summary>An event for the browsers of a session; <see cref="HubEvents.NameOf"/> gives its hub method name.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "$event")]
[JsonDerivedType(typeof(SessionStartedDto), HubEvents.SessionStarted)]
[JsonDerivedType(typeof(TaskAcceptedDto), HubEvents.TaskAccepted)]
[JsonDerivedType(typeof(TaskQueuedDto), HubEvents.TaskQueued)]
[JsonDerivedType(typeof(TaskAssignedDto), HubEvents.TaskAssigned)]
[JsonDerivedType(typeof(AiResponseChunkDto), HubEvents.AiResponseChunk)]
[JsonDerivedType(typeof(AiResponseDto), HubEvents.AiResponse)]
[JsonDerivedType(typeof(TaskFailedDto), HubEvents.TaskFailed)]
[JsonDerivedType(typeof(SessionDeletedDto), HubEvents.SessionDeleted)]
[JsonDerivedType(typeof(TaskCancelledDto), HubEvents.TaskCancelled)]
public interface IBrowserEvent : IClusterMessage;

/// <param name="Cancelled">True for a question the user stopped: <paramref name="Response"/> is what had streamed by then.</param>
/// <param name="Replaces">The turn this one took the place of (regenerate, edit); that one is still in the history.</param>
/// <param name="PromptTokens">The model's token counts, when the worker reported them.</param>
public sealed record HistoryItemDto(string TaskId, string Query, string? Response, string? Error, string? WorkerId,
    long? ProcessingTimeMs, string? Provider, long Timestamp, bool? Retryable = null, string? Partial = null, bool? Cancelled = null,
    string? Replaces = null, string? Model = null, int? PromptTokens = null, int? OutputTokens = null);

/// <param name="ResumeToken">Proves that this browser owns the session: resuming needs it with the id
/// (<c>/hubs/chat?session=&lt;id&gt;&amp;token=&lt;resumeToken&gt;</c>). The page keeps both in localStorage.</param>
/// <param name="Models">The models a user may choose (<c>Llm__Models</c>), the default first; empty: no choice.</param>
public sealed record SessionStartedDto(string SessionId, bool Resumed, IReadOnlyList<HistoryItemDto> History, string ResumeToken = "",
    IReadOnlyList<string>? Models = null) : IBrowserEvent;

/// <summary>The question is stored: every page of the session shows it (a page that asked it already does).</summary>
public sealed record TaskAcceptedDto(string TaskId, string Query, long Timestamp, string? Replaces = null) : IBrowserEvent;

public sealed record TaskQueuedDto(string TaskId, int Position) : IBrowserEvent;

public sealed record TaskAssignedDto(string TaskId, string WorkerId, int Attempt) : IBrowserEvent;

/// <summary>Streamed text of attempt <paramref name="Attempt"/>: replaces the answer shown so far from <paramref name="Offset"/> on.</summary>
public sealed record AiResponseChunkDto(string TaskId, int Attempt, int Offset, string Text) : IBrowserEvent;

public sealed record AiResponseDto(string TaskId, string Query, string Response, string WorkerId, string Provider,
    long ProcessingTimeMs, long Timestamp, int? PromptTokens = null, int? OutputTokens = null) : IBrowserEvent;

/// <summary>The user stopped the question: <paramref name="Text"/> is what had streamed, kept in the history as its stopped answer.</summary>
public sealed record TaskCancelledDto(string TaskId, string Text) : IBrowserEvent;

public sealed record TaskFailedDto(string TaskId, string Error, bool Retryable) : IBrowserEvent;

/// <summary>
/// The session is deleted: nothing of it is left on the server. Every connection of the session gets it, as the last
/// event of the deleted conversation (the one that asked for the deletion too), and the hub's <c>DeleteSession</c>
/// returns it. The id stays usable: the next question or connect under it starts an empty session.
/// </summary>
public sealed record SessionDeletedDto(string SessionId) : IBrowserEvent;

/// <summary>Event names exactly as the browser listens for them.</summary>
public static class HubEvents
{
    public const string SessionStarted = nameof(SessionStarted);
    public const string TaskAccepted = nameof(TaskAccepted);
    public const string TaskQueued = nameof(TaskQueued);
    public const string TaskAssigned = nameof(TaskAssigned);
    public const string AiResponseChunk = nameof(AiResponseChunk);
    public const string AiResponse = nameof(AiResponse);
    public const string TaskFailed = nameof(TaskFailed);
    public const string SessionDeleted = nameof(SessionDeleted);
    public const string TaskCancelled = nameof(TaskCancelled);

    public static string NameOf(IBrowserEvent e) => e switch
    {
        SessionStartedDto => SessionStarted,
        TaskAcceptedDto => TaskAccepted,
        TaskQueuedDto => TaskQueued,
        TaskAssignedDto => TaskAssigned,
        AiResponseChunkDto => AiResponseChunk,
        AiResponseDto => AiResponse,
        TaskFailedDto => TaskFailed,
        SessionDeletedDto => SessionDeleted,
        TaskCancelledDto => TaskCancelled,
        _ => throw new ArgumentOutOfRangeException(nameof(e), e.GetType().Name, "not a browser event"),
    };
}
