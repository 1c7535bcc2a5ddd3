using AiSystem.Master.Serialization;

namespace AiSystem.Master.Sessions;

// What a session actor takes. Sessions are sharded over the masters, so everything here may cross nodes.

/// <summary>Anything addressed to one session: the shard region routes it by <see cref="SessionId"/>.</summary>
public interface ISessionCommand : IClusterMessage
{
    string SessionId { get; }
}

/// <summary>
/// A browser connection arrived at the master at <paramref name="NodeAddress"/>. <paramref name="Requested"/>: the
/// browser asked to resume this session (and proved it owns it). <paramref name="ResumeToken"/> goes back to the browser in
/// its <see cref="Hubs.SessionStartedDto"/>, the reply.
/// </summary>
public sealed record AttachConnection(string SessionId, bool Requested, string ConnectionId, string NodeAddress, string ResumeToken = "")
    : ISessionCommand;

public sealed record DetachConnection(string SessionId, string ConnectionId) : ISessionCommand;

/// <summary>
/// A question from the browser. <paramref name="TaskId"/> is the browser's own id for it (a UUID): sending the same
/// one again is the same question, never a second one. Replies <see cref="SubmitReply"/>.
/// </summary>
/// <param name="ConnectionId">The asking connection: the reply tells it what the first pushes would (it gets none of them).</param>
/// <param name="Replaces">Regenerate or edit: the task id of the conversation's last turn, which this question takes the place of.</param>
/// <param name="Model">The model the user chose: one of <c>Llm__Models</c> (null: the default).</param>
public sealed record SubmitQuestion(string SessionId, string? TaskId, string? Query, string? ApiKey, string? ConnectionId = null,
    string? Replaces = null, string? Model = null) : ISessionCommand
{
    public override string ToString() =>
        $"SubmitQuestion {{ SessionId = {SessionId}, TaskId = {TaskId}, Query = {Query?.Length ?? 0} chars{(string.IsNullOrEmpty(ApiKey) ? "" : ", ApiKey = ***")}, Replaces = {Replaces}, Model = {Model} }}";
}

/// <summary>From the hub: the user stops this question. Replies <see cref="CancelReply"/>.</summary>
public sealed record CancelQuestion(string SessionId, string TaskId) : ISessionCommand;

/// <param name="Status">cancelled (stopped now, or before), answered or failed (it had ended: nothing was stopped); null with <paramref name="Error"/>.</param>
public sealed record CancelReply(string TaskId, string? Status, string? Error = null) : IClusterMessage
{
    public const string Cancelled = "cancelled";
    public const string Answered = "answered";
    public const string Failed = "failed";
}

/// <summary>
/// From the hub: delete this session, on behalf of one of its own connections. Its open questions are cancelled, every
/// row of it leaves the journal, every connection of it hears <see cref="Hubs.SessionDeletedDto"/>, and the session
/// stops: the next message to this id starts an empty one. Replies <see cref="DeleteSessionReply"/>.
/// </summary>
public sealed record DeleteSession(string SessionId) : ISessionCommand;

/// <param name="Error">Null: deleted. Otherwise why not, for the user; nothing was deleted then.</param>
public sealed record DeleteSessionReply(string? Error) : IClusterMessage
{
    public static readonly DeleteSessionReply Deleted = new((string?)null);

    public static DeleteSessionReply Refused(string error) => new(error);
}

/// <param name="Status">assigned, queued or answered; null with <paramref name="Error"/>.</param>
public sealed record SubmitReply(string? TaskId, string? Status, int? Position, string? Error, string? WorkerId = null, int? Attempt = null)
    : IClusterMessage
{
    public static SubmitReply Refused(string error) => new(null, null, null, error);
}

/// <summary>Where a task stands at the dispatcher.</summary>
/// <param name="Status">queued, assigned or answered.</param>
public sealed record TaskStatusView(string Status, int? Position, string? WorkerId, int Attempt)
{
    public const string Queued = "queued";
    public const string Assigned = "assigned";
    public const string Answered = "answered";
}

/// <summary>The dispatcher's reply to <see cref="Dispatch.SubmitTask"/>: it has the task; where it stands now.</summary>
public sealed record TaskAdmitted(string SessionId, string TaskId, TaskStatusView Status) : ISessionCommand;

/// <summary>The dispatcher's reply to <see cref="Dispatch.SubmitTask"/>: it does not take the question, and why.</summary>
public sealed record TaskRefused(string SessionId, string TaskId, string Reason) : ISessionCommand;

/// <summary>From the dispatcher: the task moved (its position in the queue, or a worker took it).</summary>
public sealed record TaskStatusChanged(string SessionId, string TaskId, TaskStatusView Status) : ISessionCommand;

/// <summary>Streamed text of a task's current attempt: replaces its answer so far from <paramref name="Offset"/> on (never journaled).</summary>
public sealed record TaskTextStreamed(string SessionId, string TaskId, int Attempt, int Offset, string Text) : ISessionCommand;

/// <summary>How one question ended, as the dispatcher hands it to its session.</summary>
public sealed record TaskOutcome(string TaskId, string? Answer, string? Error, bool Retryable, string WorkerId, string Provider,
    long ProcessingTimeMs, long FinishedAt, int? PromptTokens = null, int? OutputTokens = null)
{
    public override string ToString() => $"TaskOutcome {{ TaskId = {TaskId}, WorkerId = {WorkerId}, Failed = {Error is not null} }}";
}

/// <summary>From the dispatcher: store this outcome and tell the browsers; confirm with <see cref="Dispatch.OutcomeStored"/>.</summary>
public sealed record RecordOutcome(string SessionId, TaskOutcome Outcome) : ISessionCommand;

/// <summary>
/// From a dispatcher that restarted: send every open question again, then list them
/// (<see cref="Dispatch.OpenTasksListed"/>). Wakes a passivated session.
/// </summary>
public sealed record ResubmitOpenTasks(string SessionId) : ISessionCommand;

/// <summary>Shutting down: this master's browser push actor finishes what it was given. Replies <see cref="PushesFlushed"/>.</summary>
public sealed record FlushPushes
{
    public static readonly FlushPushes Instance = new();
}

public sealed record PushesFlushed
{
    public static readonly PushesFlushed Instance = new();
}
