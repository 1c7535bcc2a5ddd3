using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace AiSystem.Messages;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(WorkerRegistration))]
[JsonSerializable(typeof(WorkerStatusUpdate))]
[JsonSerializable(typeof(WorkerHeartbeat))]
[JsonSerializable(typeof(TaskMessage))]
[JsonSerializable(typeof(LogMessage))]
[JsonSerializable(typeof(CancelMessage))]
public sealed partial class WireJsonContext : JsonSerializerContext;

/// <summary>Reads and writes the MQTT payloads of PROTOCOL.md §1 (UTF-8, snake_case, unknown fields ignored).</summary>
public static class WireJson
{
    public static byte[] Serialize(WorkerRegistration value) => JsonSerializer.SerializeToUtf8Bytes(value, WireJsonContext.Default.WorkerRegistration);
    public static byte[] Serialize(WorkerStatusUpdate value) => JsonSerializer.SerializeToUtf8Bytes(value, WireJsonContext.Default.WorkerStatusUpdate);
    public static byte[] Serialize(WorkerHeartbeat value) => JsonSerializer.SerializeToUtf8Bytes(value, WireJsonContext.Default.WorkerHeartbeat);
    public static byte[] Serialize(TaskMessage value) => JsonSerializer.SerializeToUtf8Bytes(value, WireJsonContext.Default.TaskMessage);
    public static byte[] Serialize(LogMessage value) => JsonSerializer.SerializeToUtf8Bytes(value, WireJsonContext.Default.LogMessage);
    public static byte[] Serialize(CancelMessage value) => JsonSerializer.SerializeToUtf8Bytes(value, WireJsonContext.Default.CancelMessage);

    /// <summary>The longest worker id accepted: it becomes a topic level and a key in every table.</summary>
    public const int MaxWorkerIdLength = 128;
    /// <summary>The longest descriptive string (language, host, version, provider, ...) accepted.</summary>
    public const int MaxTextLength = 256;
    public const int MaxCapacity = 1024;

    public static bool TryParse(ReadOnlySequence<byte> payload, [NotNullWhen(true)] out WorkerRegistration? value, out string? error) =>
        TryParse(payload, WireJsonContext.Default.WorkerRegistration, out value, out error) && Check(value, v =>
            WorkerId(v.WorkerId) ?? Status(v.Status) ?? Capacity(v.Capacity) ?? Interval(v.HeartbeatIntervalMs)
            ?? Text(v.Language, "language") ?? Text(v.Host, "host") ?? Text(v.Version, "version")
            ?? Text(v.Provider, "provider") ?? Text(v.ClusterAddress, "cluster_address"), ref error);

    public static bool TryParse(ReadOnlySequence<byte> payload, [NotNullWhen(true)] out WorkerStatusUpdate? value, out string? error) =>
        TryParse(payload, WireJsonContext.Default.WorkerStatusUpdate, out value, out error)
        && Check(value, v => WorkerId(v.WorkerId) ?? Status(v.Status) ?? Capacity(v.Capacity) ?? Count(v.ActiveTasks, "active_tasks"), ref error);

    public static bool TryParse(ReadOnlySequence<byte> payload, [NotNullWhen(true)] out WorkerHeartbeat? value, out string? error) =>
        TryParse(payload, WireJsonContext.Default.WorkerHeartbeat, out value, out error)
        && Check(value, v => WorkerId(v.WorkerId) ?? (v.Status is null ? null : Status(v.Status)) ?? Capacity(v.Capacity)
            ?? Count(v.ActiveTasks, "active_tasks") ?? Interval(v.HeartbeatIntervalMs) ?? TaskIds(v.TaskIds), ref error);

    public static bool TryParse(ReadOnlySequence<byte> payload, [NotNullWhen(true)] out TaskMessage? value, out string? error) =>
        TryParse(payload, WireJsonContext.Default.TaskMessage, out value, out error)
        && Check(value, v => WorkerId(v.WorkerId) ?? Required(v.SessionId, "session_id") ?? Required(v.GrpcEndpoint, "grpc_endpoint")
            ?? (v.Query is null ? "required field 'query' is null" : null) ?? History(v.History), ref error);

    public static bool TryParse(ReadOnlySequence<byte> payload, [NotNullWhen(true)] out CancelMessage? value, out string? error) =>
        TryParse(payload, WireJsonContext.Default.CancelMessage, out value, out error)
        && Check(value, v => WorkerId(v.WorkerId) ?? Required(v.TaskId, "task_id"), ref error);

    public static bool TryParse(ReadOnlySequence<byte> payload, [NotNullWhen(true)] out LogMessage? value, out string? error) =>
        TryParse(payload, WireJsonContext.Default.LogMessage, out value, out error);

    private static bool TryParse<T>(ReadOnlySequence<byte> payload, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info,
        [NotNullWhen(true)] out T? value, out string? error) where T : class
    {
        value = null;
        try
        {
            var reader = new Utf8JsonReader(payload);
            value = JsonSerializer.Deserialize(ref reader, info);
            error = value is null ? "payload is JSON null, expected an object" : null;
        }
        catch (JsonException e)
        {
            // The message names the path and the missing or mistyped field; the payload itself is never echoed.
            error = $"not a valid {typeof(T).Name} payload: {e.Message}";
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException)
        {
            error = $"not a valid {typeof(T).Name} payload: {e.Message}";
        }
        return value is not null && error is null;
    }

    private static bool Check<T>(T value, Func<T, string?> validate, ref string? error) where T : class
    {
        error = validate(value);
        return error is null;
    }

    private static string? Required(string? value, string field) =>
        string.IsNullOrWhiteSpace(value) ? $"required field '{field}' is empty" : null;

    /// <summary>A worker id names an MQTT topic level: no wildcards, no separators, nothing unprintable, not huge.</summary>
    private static string? WorkerId(string? id) =>
        Required(id, "worker_id")
        ?? (id!.Length > MaxWorkerIdLength ? $"field 'worker_id' is {id.Length} characters long, the limit is {MaxWorkerIdLength}" : null)
        ?? (id.Any(c => c is '/' or '+' or '#' || char.IsControl(c) || char.IsWhiteSpace(c))
            ? "field 'worker_id' contains '/', '+', '#', white space or control characters" : null);

    private static string? Status(string? status) =>
        WorkerStatuses.IsKnown(status) ? null : $"field 'status' is '{Truncate(status ?? "null")}', expected idle, busy or offline";

    private static string? Capacity(int? capacity) =>
        capacity is null or (>= 1 and <= MaxCapacity) ? null : $"field 'capacity' is {capacity}, expected 1 to {MaxCapacity}";

    private static string? Count(int? count, string field) =>
        count is null or >= 0 ? null : $"field '{field}' is {count}, expected 0 or more";

    private static string? Interval(long? ms) =>
        ms is null or (>= 100 and <= 3_600_000) ? null : $"field 'heartbeat_interval_ms' is {ms}, expected 100 to 3600000";

    private static string? TaskIds(IReadOnlyList<string>? ids) =>
        ids is null ? null
        : ids.Count > MaxCapacity ? $"field 'task_ids' has {ids.Count} entries, the limit is {MaxCapacity}"
        : ids.Any(id => string.IsNullOrEmpty(id) || id.Length > MaxWorkerIdLength) ? $"field 'task_ids' has an empty id or one over {MaxWorkerIdLength} characters"
        : null;

    private static string? History(IReadOnlyList<ChatTurn>? turns)
    {
        if (turns is null) return null;
        for (var i = 0; i < turns.Count; i++)
        {
            if (turns[i] is not { Text: not null } turn) return $"field 'history[{i}]' has no 'text'";
            if (turn.Role is not (ChatTurn.User or ChatTurn.Model))
                return $"field 'history[{i}].role' is '{Truncate(turn.Role ?? "null")}', expected user or model";
        }
        return null;
    }

    private static string? Text(string? value, string field) =>
        value is null || value.Length <= MaxTextLength ? null : $"field '{field}' is {value.Length} characters long, the limit is {MaxTextLength}";

    private static string Truncate(string s) => s.Length <= 32 ? s : s[..32] + "…";
}

/// <summary>Time on the wire: Unix epoch milliseconds.</summary>
public static class EpochMs
{
    public static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
}
