namespace AiSystem.Master.Dispatch;

/// <summary>One accepted question as the dispatcher tracks it. The API key lives only here and in the MQTT task.</summary>
public sealed record DispatchTask(
    string TaskId,
    string SessionId,
    string Query,
    string ApiKey,
    long Timestamp)
{
    public int Attempt { get; init; }
    public string? WorkerId { get; init; }
    public DateTimeOffset? AssignedAt { get; init; }

    public override string ToString() => $"DispatchTask {{ TaskId = {TaskId}, SessionId = {SessionId}, Attempt = {Attempt}, WorkerId = {WorkerId} }}";
}
