using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Akka.Actor;
using Akka.Serialization;
using SerializationException = System.Runtime.Serialization.SerializationException;
using AiSystem.Master.Dashboard;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Hubs;
using AiSystem.Master.Sessions;

namespace AiSystem.Master.Serialization;

/// <summary>
/// The one serializer for everything the master persists (<see cref="IJournalRecord"/>) or sends to another master
/// (<see cref="IClusterMessage"/>): System.Text.Json, source-generated, with a stable manifest per type (never a CLR
/// type name), so classes can be renamed and moved without breaking old journals. A new persisted field must be
/// optional (old rows do not have it); a breaking change gets a new manifest and the old one keeps its reader.
/// </summary>
public sealed class AiSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int Id = 7177;

    public override int Identifier => Id;

    public override string Manifest(object o) => Manifests.Of(o.GetType()).Name;

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, Manifests.Of(obj.GetType()).TypeInfo);

    public override object FromBinary(byte[] bytes, string manifest) =>
        JsonSerializer.Deserialize(bytes, Manifests.Named(manifest).TypeInfo)
        ?? throw new SerializationException($"A '{manifest}' message deserialized to null.");
}

/// <summary>Every type <see cref="AiSerializer"/> knows, with its manifest. Manifests never change once written.</summary>
public static class Manifests
{
    public sealed record Entry(Type Type, string Name, JsonTypeInfo TypeInfo);

    private static readonly AiJson Json = AiJson.Default;

    public static readonly IReadOnlyList<Entry> All =
    [
        // Journal and snapshots: never rename these manifests.
        new(typeof(QuestionAsked), "session.question-asked", Json.QuestionAsked),
        new(typeof(QuestionAnswered), "session.question-answered", Json.QuestionAnswered),
        new(typeof(QuestionFailed), "session.question-failed", Json.QuestionFailed),
        new(typeof(QuestionCancelled), "session.question-cancelled", Json.QuestionCancelled),
        new(typeof(SessionSnapshot), "session.snapshot", Json.SessionSnapshot),
        new(typeof(DispatcherSnapshot), "dispatcher.snapshot", Json.DispatcherSnapshot),
        // Between masters.
        new(typeof(SubmitTask), "dispatcher.submit-task", Json.SubmitTask),
        new(typeof(CancelTask), "dispatcher.cancel-task", Json.CancelTask),
        new(typeof(OpenTasksListed), "dispatcher.open-tasks-listed", Json.OpenTasksListed),
        new(typeof(OutcomeStored), "dispatcher.outcome-stored", Json.OutcomeStored),
        new(typeof(CompleteTask), "dispatcher.complete-task", Json.CompleteTask),
        new(typeof(StreamTaskText), "dispatcher.stream-task-text", Json.StreamTaskText),
        new(typeof(FetchTaskKey), "dispatcher.fetch-task-key", Json.FetchTaskKey),
        new(typeof(TaskKey), "dispatcher.task-key", Json.TaskKey),
        new(typeof(RegisterWorker), "dispatcher.register-worker", Json.RegisterWorker),
        new(typeof(ReportWorkerStatus), "dispatcher.report-worker-status", Json.ReportWorkerStatus),
        new(typeof(ReportWorkerHeartbeat), "dispatcher.report-worker-heartbeat", Json.ReportWorkerHeartbeat),
        new(typeof(SetBrokerConnection), "dispatcher.set-broker-connection", Json.SetBrokerConnection),
        new(typeof(RemoveWorkersAt), "dispatcher.remove-workers-at", Json.RemoveWorkersAt),
        new(typeof(GetDispatchView), "dispatcher.get-view", Json.GetDispatchView),
        new(typeof(DispatchView), "dispatcher.view", Json.DispatchView),
        new(typeof(DispatcherPing), "dispatcher.ping", Json.DispatcherPing),
        new(typeof(DispatcherPong), "dispatcher.pong", Json.DispatcherPong),
        new(typeof(GetAnswerSeries), "dispatcher.get-answer-series", Json.GetAnswerSeries),
        new(typeof(AnswerSeriesView), "dispatcher.answer-series", Json.AnswerSeriesView),
        new(typeof(AttachConnection), "session.attach-connection", Json.AttachConnection),
        new(typeof(DetachConnection), "session.detach-connection", Json.DetachConnection),
        new(typeof(SubmitQuestion), "session.submit-question", Json.SubmitQuestion),
        new(typeof(SubmitReply), "session.submit-reply", Json.SubmitReply),
        new(typeof(TaskAdmitted), "session.task-admitted", Json.TaskAdmitted),
        new(typeof(TaskRefused), "session.task-refused", Json.TaskRefused),
        new(typeof(TaskStatusChanged), "session.task-status-changed", Json.TaskStatusChanged),
        new(typeof(TaskTextStreamed), "session.task-text-streamed", Json.TaskTextStreamed),
        new(typeof(RecordOutcome), "session.record-outcome", Json.RecordOutcome),
        new(typeof(ResubmitOpenTasks), "session.resubmit-open-tasks", Json.ResubmitOpenTasks),
        new(typeof(DeleteSession), "session.delete", Json.DeleteSession),
        new(typeof(DeleteSessionReply), "session.delete-reply", Json.DeleteSessionReply),
        new(typeof(CancelQuestion), "session.cancel-question", Json.CancelQuestion),
        new(typeof(CancelReply), "session.cancel-reply", Json.CancelReply),
        new(typeof(PushToBrowsers), "browser.push", Json.PushToBrowsers),
        new(typeof(FindConnections), "browser.find-connections", Json.FindConnections),
        new(typeof(ConnectionsFound), "browser.connections-found", Json.ConnectionsFound),
        new(typeof(SessionStartedDto), "browser.session-started", Json.SessionStartedDto),
        new(typeof(TaskAcceptedDto), "browser.task-accepted", Json.TaskAcceptedDto),
        new(typeof(TaskQueuedDto), "browser.task-queued", Json.TaskQueuedDto),
        new(typeof(TaskAssignedDto), "browser.task-assigned", Json.TaskAssignedDto),
        new(typeof(AiResponseChunkDto), "browser.ai-response-chunk", Json.AiResponseChunkDto),
        new(typeof(AiResponseDto), "browser.ai-response", Json.AiResponseDto),
        new(typeof(TaskFailedDto), "browser.task-failed", Json.TaskFailedDto),
        new(typeof(SessionDeletedDto), "browser.session-deleted", Json.SessionDeletedDto),
        new(typeof(TaskCancelledDto), "browser.task-cancelled", Json.TaskCancelledDto),
    ];

    private static readonly Dictionary<Type, Entry> ByType = All.ToDictionary(e => e.Type);
    private static readonly Dictionary<string, Entry> ByName = All.ToDictionary(e => e.Name, StringComparer.Ordinal);

    public static Entry Of(Type type) => ByType.TryGetValue(type, out var e) ? e
        : throw new SerializationException($"{type.Name} has no manifest: add it to {nameof(Manifests)}.{nameof(All)}.");

    public static Entry Named(string manifest) => ByName.TryGetValue(manifest, out var e) ? e
        : throw new SerializationException($"Unknown manifest '{manifest}': written by a newer version of the master?");
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(QuestionAsked))]
[JsonSerializable(typeof(QuestionAnswered))]
[JsonSerializable(typeof(QuestionFailed))]
[JsonSerializable(typeof(QuestionCancelled))]
[JsonSerializable(typeof(CancelQuestion))]
[JsonSerializable(typeof(CancelReply))]
[JsonSerializable(typeof(TaskCancelledDto))]
[JsonSerializable(typeof(SessionSnapshot))]
[JsonSerializable(typeof(DispatcherSnapshot))]
[JsonSerializable(typeof(SubmitTask))]
[JsonSerializable(typeof(CancelTask))]
[JsonSerializable(typeof(OpenTasksListed))]
[JsonSerializable(typeof(OutcomeStored))]
[JsonSerializable(typeof(CompleteTask))]
[JsonSerializable(typeof(FetchTaskKey))]
[JsonSerializable(typeof(TaskKey))]
[JsonSerializable(typeof(StreamTaskText))]
[JsonSerializable(typeof(RegisterWorker))]
[JsonSerializable(typeof(ReportWorkerStatus))]
[JsonSerializable(typeof(ReportWorkerHeartbeat))]
[JsonSerializable(typeof(SetBrokerConnection))]
[JsonSerializable(typeof(RemoveWorkersAt))]
[JsonSerializable(typeof(GetDispatchView))]
[JsonSerializable(typeof(DispatchView))]
[JsonSerializable(typeof(DispatcherPing))]
[JsonSerializable(typeof(DispatcherPong))]
[JsonSerializable(typeof(GetAnswerSeries))]
[JsonSerializable(typeof(AnswerSeriesView))]
[JsonSerializable(typeof(AttachConnection))]
[JsonSerializable(typeof(DetachConnection))]
[JsonSerializable(typeof(SubmitQuestion))]
[JsonSerializable(typeof(SubmitReply))]
[JsonSerializable(typeof(TaskAdmitted))]
[JsonSerializable(typeof(TaskRefused))]
[JsonSerializable(typeof(TaskStatusChanged))]
[JsonSerializable(typeof(TaskTextStreamed))]
[JsonSerializable(typeof(RecordOutcome))]
[JsonSerializable(typeof(ResubmitOpenTasks))]
[JsonSerializable(typeof(DeleteSession))]
[JsonSerializable(typeof(DeleteSessionReply))]
[JsonSerializable(typeof(PushToBrowsers))]
[JsonSerializable(typeof(FindConnections))]
[JsonSerializable(typeof(ConnectionsFound))]
[JsonSerializable(typeof(SessionStartedDto))]
[JsonSerializable(typeof(TaskAcceptedDto))]
[JsonSerializable(typeof(TaskQueuedDto))]
[JsonSerializable(typeof(TaskAssignedDto))]
[JsonSerializable(typeof(AiResponseChunkDto))]
[JsonSerializable(typeof(AiResponseDto))]
[JsonSerializable(typeof(TaskFailedDto))]
[JsonSerializable(typeof(SessionDeletedDto))]
internal sealed partial class AiJson : JsonSerializerContext;
