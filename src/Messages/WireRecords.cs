using System.Text.Json.Serialization;

namespace AiSystem.Messages;

/// <summary>Worker statuses as they appear on the wire.</summary>
public static class WorkerStatuses
{
    public const string Idle = "idle";
    public const string Busy = "busy";
    public const string Offline = "offline";

    public static bool IsKnown(string? status) => status is Idle or Busy or Offline;
}

/// <summary><c>upb/workers/register</c>: sent by a worker on every (re)connect.</summary>
public sealed record WorkerRegistration
{
    [JsonRequired] public string WorkerId { get; init; } = "";
    [JsonRequired] public string Status { get; init; } = WorkerStatuses.Idle;
    [JsonRequired] public long Timestamp { get; init; }
    public string? Language { get; init; }
    public int? Capacity { get; init; }
    public long? HeartbeatIntervalMs { get; init; }
    public string? Version { get; init; }
    public string? Host { get; init; }
    public string? ClusterAddress { get; init; }
    public string? Provider { get; init; }
    /// <summary>
    /// Extra: the worker fetches a user's API key from the master (gRPC <c>FetchKey</c>, proven by the assignment's
    /// alias) instead of reading it from the task, so the key never travels on the broker.
    /// </summary>
    public bool? FetchesKeys { get; init; }
}

/// <summary><c>upb/workers/status</c>: on every state change, and the worker's MQTT last will (<c>offline</c>).</summary>
public sealed record WorkerStatusUpdate
{
    [JsonRequired] public string WorkerId { get; init; } = "";
    [JsonRequired] public string Status { get; init; } = "";
    [JsonRequired] public long Timestamp { get; init; }
    public int? ActiveTasks { get; init; }
    public int? Capacity { get; init; }
    /// <summary>
    /// Extra: the worker is shutting down. It takes no new task, finishes the ones it has, then says <c>offline</c>;
    /// the master gives it nothing more meanwhile (a task sent to it anyway would come back only at its offline).
    /// </summary>
    public bool? Draining { get; init; }
}

/// <summary><c>upb/workers/heartbeat</c>: every <c>heartbeat_interval_ms</c>.</summary>
public sealed record WorkerHeartbeat
{
    [JsonRequired] public string WorkerId { get; init; } = "";
    public string? Status { get; init; }
    [JsonRequired] public long Timestamp { get; init; }
    public int? ActiveTasks { get; init; }
    public int? Capacity { get; init; }
    public long? TasksCompleted { get; init; }
    /// <summary>Extra: lets a master that restarted judge a worker it never saw register.</summary>
    public long? HeartbeatIntervalMs { get; init; }
    /// <summary>Extra: the ids of the tasks running now, so a dispatcher that restarted leaves them where they are.</summary>
    public IReadOnlyList<string>? TaskIds { get; init; }
}

/// <summary><c>upb/workers/{worker_id}/tasks</c>: one question for one worker.</summary>
public sealed record TaskMessage
{
    [JsonRequired] public string WorkerId { get; init; } = "";
    [JsonRequired] public string SessionId { get; init; } = "";
    [JsonRequired] public string Query { get; init; } = "";
    /// <summary>May be empty: the worker then uses its own key. Never logged.</summary>
    public string? ApiKey { get; init; }
    [JsonRequired] public string GrpcEndpoint { get; init; } = "";
    [JsonRequired] public long Timestamp { get; init; }
    public string? TaskId { get; init; }
    public int? Attempt { get; init; }
    public long? Deadline { get; init; }
    public string? Model { get; init; }
    /// <summary>
    /// Extra, only to workers that registered <c>fetches_keys</c>: the user gave a key, which the master holds back
    /// (<c>api_key</c> is then empty); the worker gets it with gRPC <c>FetchKey</c>.
    /// </summary>
    public bool? ApiKeyHeld { get; init; }
    /// <summary>
    /// Extra: the conversation before <see cref="Query"/>, oldest first (answered turns only, within the master's
    /// context budget). Old workers ignore it and answer the question alone.
    /// </summary>
    public IReadOnlyList<ChatTurn>? History { get; init; }
    /// <summary>Extra: the operator's system instruction (<c>Chat__SystemPrompt</c>) for the model.</summary>
    public string? SystemInstruction { get; init; }

    /// <summary>Never print the key or the texts, whatever calls ToString.</summary>
    public override string ToString() =>
        $"TaskMessage {{ task_id = {TaskId}, worker_id = {WorkerId}, session_id = {SessionId}, attempt = {Attempt}, query = {Query.Length} chars, history = {History?.Count ?? 0} turns }}";
}

/// <summary>One earlier turn of a conversation: <see cref="Role"/> is <c>user</c> or <c>model</c>.</summary>
public sealed record ChatTurn(string Role, string Text)
{
    public const string User = "user";
    public const string Model = "model";

    public override string ToString() => $"ChatTurn {{ {Role}, {Text.Length} chars }}";
}

/// <summary>
/// <c>upb/workers/{worker_id}/cancel</c> (extra): stop this task now. The worker aborts the model call, frees the slot and
/// sends no result (the master has forgotten the task). Old workers never subscribe, so they finish the call and their
/// late result is dropped.
/// </summary>
public sealed record CancelMessage
{
    [JsonRequired] public string TaskId { get; init; } = "";
    [JsonRequired] public string WorkerId { get; init; } = "";
    public int? Attempt { get; init; }
    [JsonRequired] public long Timestamp { get; init; }
}

/// <summary><c>upb/logs</c>: one log line of any component.</summary>
public sealed record LogMessage
{
    [JsonRequired] public long Timestamp { get; init; }
    [JsonRequired] public string Source { get; init; } = "";
    [JsonRequired] public string Message { get; init; } = "";
    public string? Level { get; init; }
    public string? TaskId { get; init; }
    public string? SessionId { get; init; }
}
