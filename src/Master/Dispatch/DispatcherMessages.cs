using AiSystem.Master.Serialization;
using AiSystem.Messages;

namespace AiSystem.Master.Dispatch;

// What the dispatcher singleton takes. It may live on another master, so everything here is an IClusterMessage.

/// <summary>
/// A question as a session hands it over, with the conversation before it (<paramref name="History"/>, oldest first,
/// within the session's context budget), the operator's system instruction and the model the user chose. The API key
/// travels only in memory, never to the journal; none of the texts is ever printed.
/// </summary>
public sealed record TaskRequest(string TaskId, string SessionId, string Query, string ApiKey, long AskedAt,
    IReadOnlyList<ChatTurn>? History = null, string? System = null, string? Model = null)
{
    public override string ToString() =>
        $"TaskRequest {{ TaskId = {TaskId}, SessionId = {SessionId}, Query = {Query.Length} chars, History = {History?.Count ?? 0} turns }}";
}

/// <summary>
/// From a session: dispatch this question. Replies <see cref="Sessions.TaskAdmitted"/> or <see cref="Sessions.TaskRefused"/>.
/// Idempotent by task id; <paramref name="Resubmitted"/>: the session sends an open question again (after a restart,
/// or having heard nothing for a while).
/// </summary>
public sealed record SubmitTask(TaskRequest Task, bool Resubmitted = false) : IClusterMessage;

/// <summary>
/// From a session: the task leaves without an outcome, because the session could not store the question, or the user
/// stopped it (the session has stored that). A queued task leaves the queue; a worker running it is told to stop.
/// </summary>
public sealed record CancelTask(string TaskId, string SessionId) : IClusterMessage;

/// <summary>From a session woken after a restart: these are all its open questions (see <see cref="DispatchState.OpenTasksListed"/>).</summary>
public sealed record OpenTasksListed(string SessionId, IReadOnlyList<string> TaskIds) : IClusterMessage;

/// <summary>From a session: the outcome of this task is in its journal.</summary>
public sealed record OutcomeStored(string TaskId) : IClusterMessage;

/// <summary>
/// A worker's result as the gRPC edge passes it on (the original field <c>api_key</c> and the echoed query stay behind).
/// Replies a gRPC <c>ResultAck</c> once the outcome is stored, or at once when the result is refused or a duplicate.
/// </summary>
public sealed record CompleteTask(WorkerResult Result) : IClusterMessage;

/// <param name="PromptTokens">The model's token counts, when the worker reported them (extras; older workers send none).</param>
public sealed record WorkerResult(string WorkerId, string TaskId, string SessionId, long QueryTimestamp, string Answer, string Error,
    bool PermanentError, string Provider, long ProcessingTimeMs, long CompletionTimestamp, int? PromptTokens = null, int? OutputTokens = null)
{
    public static WorkerResult From(Messages.Grpc.TaskResult r) => new(r.WorkerId, r.TaskId, r.SessionId, r.QueryTimestamp,
        r.AiResponse, r.Error, r.PermanentError, r.Provider, r.ProcessingTimeMs, r.CompletionTimestamp,
        r.HasPromptTokens ? r.PromptTokens : null, r.HasOutputTokens ? r.OutputTokens : null);

    public override string ToString() => $"WorkerResult {{ TaskId = {TaskId}, WorkerId = {WorkerId}, Answer = {Answer.Length} chars }}";
}

/// <summary>
/// From the gRPC edge: the user's key of a task, for its worker (<c>FetchKey</c>), proven by the assignment's alias.
/// Answered with <see cref="TaskKey"/>.
/// </summary>
public sealed record FetchTaskKey(string TaskId, string WorkerId, string SessionAlias) : IClusterMessage;

/// <summary>The key, or empty with <paramref name="Error"/> saying why not. Never printed.</summary>
public sealed record TaskKey(string ApiKey, string Error) : IClusterMessage
{
    public override string ToString() => $"TaskKey {{ found = {ApiKey.Length > 0}, error = {Error} }}";
}

/// <summary>
/// From the gRPC edge: part of an answer as a worker streams it (coalesced). <paramref name="Text"/> replaces the
/// answer from <paramref name="Offset"/> on. Best effort: never journaled, dropped unless the task is in flight on
/// that worker (and attempt, when the worker said which).
/// </summary>
/// <param name="SessionId">The assignment's session alias, as the worker echoed it: text without it is dropped.</param>
public sealed record StreamTaskText(string TaskId, string WorkerId, string SessionId, int Attempt, int Offset, string Text) : IClusterMessage;

/// <summary>From the MQTT edge (of any master).</summary>
public sealed record RegisterWorker(WorkerRegistration Registration) : IClusterMessage;
public sealed record ReportWorkerStatus(WorkerStatusUpdate Status) : IClusterMessage;
public sealed record ReportWorkerHeartbeat(WorkerHeartbeat Heartbeat) : IClusterMessage;

/// <summary>From the MQTT edge: the master's own broker connection came up or went down.</summary>
public sealed record SetBrokerConnection(bool Connected) : IClusterMessage;

/// <summary>From the cluster watcher: the node at this address left the cluster; a worker there is gone.</summary>
public sealed record RemoveWorkersAt(string Address) : IClusterMessage;

/// <summary>From the HTTP API, the dashboard and the drain: replies <see cref="DispatchView"/>.</summary>
public sealed record GetDispatchView : IClusterMessage
{
    public static readonly GetDispatchView Instance = new();
}

/// <summary>From readiness: replies <see cref="DispatcherPong"/> once the dispatcher has recovered and takes commands.</summary>
public sealed record DispatcherPing : IClusterMessage
{
    public static readonly DispatcherPing Instance = new();
}

/// <param name="Tasks">Open tasks.</param>
public sealed record DispatcherPong(int Tasks, int Workers) : IClusterMessage;

public sealed record WorkerView(string Id, string Language, string Host, string Status, string ReportedStatus, int Capacity,
    int ActiveTasks, DateTimeOffset LastSeen, long Completed, string Provider, string Version, string? ClusterAddress);

/// <param name="State">queued, in-flight, held (recovered, waiting) or completing (answered, being stored).</param>
public sealed record TaskView(string TaskId, string SessionId, string State, string? WorkerId, int Attempt, int? Position,
    DateTimeOffset? AssignedAt, long Timestamp);

/// <summary>What the dispatcher holds right now, for people and tools.</summary>
/// <param name="Undelivered">Outcomes not yet stored by their sessions.</param>
/// <param name="Usage">Answers and the model's tokens by provider (e.g. <c>gemini:gemini-2.5-flash</c>) since this dispatcher started.</param>
public sealed record DispatchView(IReadOnlyList<WorkerView> Workers, IReadOnlyList<TaskView> Tasks, int Undelivered = 0,
    IReadOnlyList<ModelUsage>? Usage = null) : IClusterMessage;

/// <param name="AnswersWithTokens">Answers whose worker reported the model's counts (older workers report none).</param>
public sealed record ModelUsage(string Provider, long Answers, long AnswersWithTokens, long PromptTokens, long OutputTokens);

/// <summary>The dispatcher's own timers.</summary>
internal sealed record DispatchTick
{
    public static readonly DispatchTick Instance = new();
}

internal sealed record SnapshotTick
{
    public static readonly SnapshotTick Instance = new();
}

/// <summary>The publish of a task to its worker failed (broker down): the task goes back to the queue.</summary>
internal sealed record TaskPublishFailed(string TaskId, int Attempt, string Error);
