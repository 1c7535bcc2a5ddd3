namespace AiSystem.Master.Dispatch;

/// <summary>One accepted question as the dispatcher tracks it. The API key lives only here and in the MQTT task.</summary>
public sealed record DispatchTask(
    string TaskId,
    string SessionId,
    string Query,
    string ApiKey,
    long Timestamp)
{
    /// <summary>How many times the task has been given to a worker (1 on the first assignment).</summary>
    public int Attempt { get; init; }
    public string? WorkerId { get; init; }
    public DateTimeOffset? AssignedAt { get; init; }
    /// <summary>When the task goes to another worker if its worker has not answered.</summary>
    public DateTimeOffset? Deadline { get; init; }
    /// <summary>The worker that had this task last and lost it; another is preferred next time.</summary>
    public string? PreviousWorkerId { get; init; }

    public override string ToString() => $"DispatchTask {{ TaskId = {TaskId}, SessionId = {SessionId}, Attempt = {Attempt}, WorkerId = {WorkerId} }}";
}
