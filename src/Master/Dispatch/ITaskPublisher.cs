using AiSystem.Messages;

namespace AiSystem.Master.Dispatch;

/// <summary>The MQTT edge the dispatcher hands tasks to.</summary>
public interface ITaskPublisher
{
    Task PublishTaskAsync(TaskMessage task, CancellationToken cancellationToken = default);

    /// <summary>Tells a worker to stop a task (its <c>cancel</c> topic).</summary>
    Task PublishCancelAsync(CancelMessage cancel, CancellationToken cancellationToken = default);
}
