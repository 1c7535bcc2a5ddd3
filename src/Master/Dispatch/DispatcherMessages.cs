using AiSystem.Messages;
using AiSystem.Messages.Grpc;

namespace AiSystem.Master.Dispatch;

// Messages the dispatcher actor takes. They stay inside the master process.

/// <summary>From a session: a validated question to dispatch. Replies <see cref="SubmitReply"/>.</summary>
public sealed record SubmitTask(DispatchTask Task);

/// <summary>The dispatcher's answer to <see cref="SubmitTask"/> (it may cross masters: plain data only).</summary>
public sealed record SubmitReply(SubmitStatus Status, int? Position, string? Error);

/// <summary>From the MQTT edge.</summary>
public sealed record WorkerRegistered(WorkerRegistration Registration);
public sealed record WorkerStatusReported(WorkerStatusUpdate Status);
public sealed record WorkerHeartbeatReceived(WorkerHeartbeat Heartbeat);

/// <summary>From the gRPC edge: a worker's result. Replies <see cref="ResultAck"/>.</summary>
public sealed record ResultReceived(TaskResult Result);

/// <summary>
/// From the gRPC edge: part of an answer as a worker streams it (coalesced). <paramref name="Text"/> replaces the
/// answer from <paramref name="Offset"/> on. Best effort: never journaled, dropped unless the task is in flight on
/// that worker (and attempt, when the worker said which).
/// </summary>
public sealed record TaskProgress(string TaskId, string WorkerId, int Attempt, int Offset, string Text);

/// <summary>From the HTTP API: replies <see cref="DispatchSnapshot"/>.</summary>
public sealed record GetDispatchSnapshot
{
    public static readonly GetDispatchSnapshot Instance = new();
}

public sealed record WorkerView(string Id, string Language, string Host, string Status, string ReportedStatus, int Capacity,
    int ActiveTasks, DateTimeOffset LastSeen, long Completed, string Provider, string Version, string? ClusterAddress);

public sealed record TaskView(string TaskId, string SessionId, string State, string? WorkerId, int Attempt, int? Position,
    DateTimeOffset? AssignedAt, long Timestamp);

/// <param name="Undelivered">Outcomes journaled but not yet stored by their sessions.</param>
public sealed record DispatchSnapshot(IReadOnlyList<WorkerView> Workers, IReadOnlyList<TaskView> Tasks, int Undelivered = 0);

/// <summary>From the cluster watcher: the node at this address left the cluster; a worker there is gone.</summary>
public sealed record ClusterNodeRemoved(string Address);

/// <summary>From the MQTT edge: the master's own broker connection came up or went down.</summary>
public sealed record BrokerConnectionChanged(bool Connected);

/// <summary>The publish of a task to its worker failed (broker down): the task goes back to the queue.</summary>
internal sealed record TaskPublishFailed(DispatchTask Task, string Error);

/// <summary>The dispatcher's own timer: liveness, deadlines, queue.</summary>
internal sealed record DispatchTick
{
    public static readonly DispatchTick Instance = new();
}
