using System.Text.Json;
using AiSystem.Master.Sessions;

namespace AiSystem.Master.Serialization;

/// <summary>
/// Reads what version 0.1.0 wrote: Akka's default Newtonsoft JSON (serializer id 1), with CLR type names in
/// <c>$type</c>. Only the sessions' records are read, into today's records, so conversations survive the upgrade; the
/// old dispatcher's journal (<c>dispatcher</c>) is no longer read by anyone (today's dispatcher recovers from its
/// sessions). Nothing is written in this format any more.
/// </summary>
public static class LegacyJournalFormat
{
    /// <summary>The identifier of Akka's Newtonsoft serializer, the only one version 0.1.0 used.</summary>
    public const int NewtonsoftSerializerId = 1;

    private const string QuestionAskedType = "AiSystem.Master.Sessions.QuestionAsked, AiSystem.Master";
    private const string OutcomeRecordedType = "AiSystem.Master.Sessions.OutcomeRecorded, AiSystem.Master";
    private const string SessionSnapshotType = "AiSystem.Master.Sessions.SessionSnapshot, AiSystem.Master";

    /// <summary>A session record of version 0.1.0 as today's record, or null when the bytes are something else.</summary>
    public static object? TryRead(byte[] bytes)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(bytes); }
        catch (JsonException) { return null; }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("$type", out var type)) return null;
            return type.GetString() switch
            {
                QuestionAskedType => new QuestionAsked(Str(root, "TaskId"), Str(root, "Query"), Long(root, "Timestamp")),
                OutcomeRecordedType when root.TryGetProperty("Outcome", out var o) => new LegacyOutcomeRecorded(Record(o)),
                SessionSnapshotType when root.TryGetProperty("Items", out var items) =>
                    new SessionSnapshot([.. Values(items).Select(HistoryItem)]),
                _ => null,
            };
        }
    }

    /// <summary>Version 0.1.0's TaskOutcome carried the question too (an outcome could be stored before its question).</summary>
    private static QuestionRecord Record(JsonElement o)
    {
        var error = OptStr(o, "Error");
        return new QuestionRecord(Str(o, "TaskId"), Str(o, "Query"), Long(o, "CompletedAt"),
            Answer: error is null ? OptStr(o, "Response") ?? "" : null, Error: error,
            Retryable: error is null ? null : Bool(o, "Retryable"), WorkerId: Empty(OptStr(o, "WorkerId")),
            Provider: Empty(OptStr(o, "Provider")), ProcessingTimeMs: Long(o, "ProcessingTimeMs"), FinishedAt: Long(o, "CompletedAt"));
    }

    /// <summary>Version 0.1.0 kept the hub's HistoryItem in its snapshots.</summary>
    private static QuestionRecord HistoryItem(JsonElement i) => new(Str(i, "TaskId"), Str(i, "Query"), Long(i, "Timestamp"),
        Answer: OptStr(i, "Response"), Error: OptStr(i, "Error"), Retryable: i.TryGetProperty("Retryable", out var r) && r.ValueKind is JsonValueKind.True or JsonValueKind.False ? r.GetBoolean() : null,
        WorkerId: OptStr(i, "WorkerId"), Provider: OptStr(i, "Provider"),
        ProcessingTimeMs: i.TryGetProperty("ProcessingTimeMs", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetInt64() : null);

    /// <summary>Newtonsoft wrote typed collections as <c>{"$type": …, "$values": [...]}</c>.</summary>
    private static IEnumerable<JsonElement> Values(JsonElement e) =>
        e.ValueKind == JsonValueKind.Array ? e.EnumerateArray()
        : e.TryGetProperty("$values", out var values) ? values.EnumerateArray()
        : [];

    private static string Str(JsonElement e, string name) => OptStr(e, name) ?? "";

    private static string? OptStr(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long Long(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : 0;

    private static bool Bool(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    private static string? Empty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}

/// <summary>
/// A session outcome as version 0.1.0 journaled it: with its question, because an outcome could be stored before the
/// question it answers. Read, never written: <see cref="SessionState.Apply"/> adds the question when it is missing.
/// </summary>
public sealed record LegacyOutcomeRecorded(QuestionRecord Record) : ISessionEvent
{
    public string TaskId => Record.TaskId;
}
