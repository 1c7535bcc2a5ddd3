using System.Text.Json;
using System.Text.Json.Serialization;

namespace AiSystem.Ctl;

/// <summary>GET /api/cluster.</summary>
public sealed record ClusterState
{
    public string? Self { get; init; }
    public string? Leader { get; init; }
    public List<ClusterMember> Members { get; init; } = [];
}

public sealed record ClusterMember
{
    [JsonRequired] public string Address { get; init; } = "";
    public List<string>? Roles { get; init; }
    /// <summary>joining, weaklyup, up, leaving, exiting, down, removed.</summary>
    public string? Status { get; init; }
    /// <summary>reachable | unreachable.</summary>
    public string? Reachability { get; init; }
    public string? AppVersion { get; init; }
    public int? UpNumber { get; init; }

    public bool IsUnreachable => string.Equals(Reachability, "unreachable", StringComparison.OrdinalIgnoreCase);
}

/// <summary>One <c>data:</c> payload of GET /api/cluster/events.</summary>
public sealed record ClusterEvent
{
    /// <summary>Epoch milliseconds.</summary>
    public long Timestamp { get; init; }
    [JsonRequired] public string Event { get; init; } = "";
    /// <summary>The member, or for <c>leader-changed</c> the new leader (null: no leader).</summary>
    public string? Address { get; init; }
    public List<string>? Roles { get; init; }
    public string? Status { get; init; }
}

/// <summary>One element of GET /api/workers.</summary>
public sealed record WorkerInfo
{
    [JsonRequired] public string Id { get; init; } = "";
    public string? Language { get; init; }
    public string? Host { get; init; }
    /// <summary>idle | busy, as the master sees it.</summary>
    public string? Status { get; init; }
    public string? ReportedStatus { get; init; }
    public int Capacity { get; init; }
    public int ActiveTasks { get; init; }
    public DateTimeOffset? LastSeen { get; init; }
    public long Completed { get; init; }
    public string? Provider { get; init; }
    public string? Version { get; init; }
    public string? ClusterAddress { get; init; }
}

/// <summary>One element of GET /api/tasks.</summary>
public sealed record TaskInfo
{
    [JsonRequired] public string TaskId { get; init; } = "";
    public string? SessionId { get; init; }
    /// <summary>queued | in-flight.</summary>
    public string? State { get; init; }
    public string? WorkerId { get; init; }
    public int Attempt { get; init; }
    /// <summary>1-based place in the queue while queued.</summary>
    public int? Position { get; init; }
    public DateTimeOffset? AssignedAt { get; init; }
    /// <summary>Epoch milliseconds: when the user asked.</summary>
    public long Timestamp { get; init; }

    public bool IsQueued => string.Equals(State, "queued", StringComparison.OrdinalIgnoreCase);
    public bool IsInFlight => string.Equals(State, "in-flight", StringComparison.OrdinalIgnoreCase);
}

/// <summary>GET /api/journal: the master's journal.</summary>
public sealed record JournalInfo
{
    /// <summary>sqlite | postgresql.</summary>
    public string? Provider { get; init; }
    /// <summary>SQLite's file name, or PostgreSQL's host/database.</summary>
    public string? Location { get; init; }
    /// <summary>ok | recovering | failing.</summary>
    [JsonRequired] public string State { get; init; } = "";
    public DateTimeOffset? LastSuccessfulWrite { get; init; }
    public int ConsecutiveFailedBatches { get; init; }
    public int RowsWaiting { get; init; }
    public long RowsWritten { get; init; }
    public long BatchesWritten { get; init; }
    public long SnapshotsWritten { get; init; }
    public JournalError? LastError { get; init; }

    public bool IsFailing => string.Equals(State, "failing", StringComparison.OrdinalIgnoreCase);
}

public sealed record JournalError
{
    public string? Type { get; init; }
    public string? Message { get; init; }
    public DateTimeOffset? At { get; init; }
}

/// <summary>Body of POST /api/cluster/leave and /api/cluster/down.</summary>
public sealed record MemberActionRequest(string Address);

/// <summary>202 answer of POST /api/cluster/leave and /api/cluster/down.</summary>
public sealed record MemberActionResponse
{
    public string? Address { get; init; }
    public string? Action { get; init; }
}

/// <summary>The <c>{"error":"..."}</c> body of 4xx answers.</summary>
public sealed record ApiError
{
    public string? Error { get; init; }
}

/// <summary>What <c>aictl cluster leader --json</c> prints.</summary>
public sealed record LeaderOutput(string? Leader);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(ClusterState))]
[JsonSerializable(typeof(ClusterEvent))]
[JsonSerializable(typeof(List<WorkerInfo>))]
[JsonSerializable(typeof(List<TaskInfo>))]
[JsonSerializable(typeof(JournalInfo))]
[JsonSerializable(typeof(MemberActionRequest))]
[JsonSerializable(typeof(MemberActionResponse))]
[JsonSerializable(typeof(List<MemberActionResponse>))]
[JsonSerializable(typeof(ApiError))]
[JsonSerializable(typeof(LeaderOutput))]
internal sealed partial class CtlJsonContext : JsonSerializerContext;

/// <summary>Parses the master's answers; a body aictl does not understand becomes a <see cref="CtlException"/>.</summary>
public static class ApiJson
{
    public static ClusterState ParseCluster(string json) => Parse(json, CtlJsonContext.Default.ClusterState, "GET /api/cluster");
    public static List<WorkerInfo> ParseWorkers(string json) => Parse(json, CtlJsonContext.Default.ListWorkerInfo, "GET /api/workers");
    public static List<TaskInfo> ParseTasks(string json) => Parse(json, CtlJsonContext.Default.ListTaskInfo, "GET /api/tasks");
    public static JournalInfo ParseJournal(string json) => Parse(json, CtlJsonContext.Default.JournalInfo, "GET /api/journal");
    public static ClusterEvent ParseEvent(string json) => Parse(json, CtlJsonContext.Default.ClusterEvent, "GET /api/cluster/events");
    public static MemberActionResponse ParseAction(string json, string what) => Parse(json, CtlJsonContext.Default.MemberActionResponse, what);

    /// <summary>The <c>error</c> text of an error body, or null when the body is not <c>{"error":"..."}</c>.</summary>
    public static string? TryParseError(string body)
    {
        try
        {
            var text = JsonSerializer.Deserialize(body, CtlJsonContext.Default.ApiError)?.Error;
            return string.IsNullOrWhiteSpace(text) ? null : text.Trim();
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException)
        {
            return null;
        }
    }

    public static string Serialize(LeaderOutput value) => JsonSerializer.Serialize(value, CtlJsonContext.Default.LeaderOutput);
    public static string Serialize(List<MemberActionResponse> value) => JsonSerializer.Serialize(value, CtlJsonContext.Default.ListMemberActionResponse);
    internal static string Serialize(MemberActionRequest value) => JsonSerializer.Serialize(value, CtlJsonContext.Default.MemberActionRequest);

    private static T Parse<T>(string json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info, string what) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(json, info)
                ?? throw Unexpected(what, "it is JSON null");
        }
        catch (JsonException e)
        {
            throw Unexpected(what, e.Message, e);
        }
        catch (Exception e) when (e is NotSupportedException or ArgumentException)
        {
            throw Unexpected(what, e.Message, e);
        }
    }

    private static CtlException Unexpected(string what, string detail, Exception? inner = null) =>
        new($"the master's answer to {what} is not what aictl understands ({Text.OneLine(detail, 160)}). " +
            "Is --master an AiSystem master of the same version?", 1, inner);
}
