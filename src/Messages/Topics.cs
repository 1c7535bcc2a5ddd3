namespace AiSystem.Messages;

/// <summary>The MQTT topic names of PROTOCOL.md §1, under a configurable first level (default <c>upb</c>).</summary>
public sealed record Topics(string Prefix = Topics.DefaultPrefix)
{
    public const string DefaultPrefix = "upb";

    public string Register => $"{Prefix}/workers/register";
    public string Status => $"{Prefix}/workers/status";
    public string Heartbeat => $"{Prefix}/workers/heartbeat";
    public string Logs => $"{Prefix}/logs";

    /// <summary>The topic one worker takes its tasks from.</summary>
    public string TasksFor(string workerId) => $"{Prefix}/workers/{workerId}/tasks";

    /// <summary>The topic one worker hears "stop this task" on (extra; old workers never subscribe).</summary>
    public string CancelsFor(string workerId) => $"{Prefix}/workers/{workerId}/cancel";
}
