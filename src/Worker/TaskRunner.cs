using System.Diagnostics;
using System.Text;
using AiSystem.Messages;
using AiSystem.Messages.Grpc;
using AiSystem.Worker.Models;
using Microsoft.Extensions.AI;

namespace AiSystem.Worker;

/// <summary>One task run: its result, and the delivery of that result to the master (which may still be retrying).</summary>
public sealed record TaskRun(TaskResult Result, Task<ResultAck> Delivery);

/// <summary>
/// Runs one task: asks the model for a streamed answer, passes the text on to the master as it comes, takes at least
/// the simulated processing delay in all, and sends the result. It returns as soon as the result is on its way: the
/// slot is free for the next task while the master stores the answer and acknowledges it.
/// </summary>
public sealed partial class TaskRunner(string workerId, ModelSelector models, IResultSender sender, TimeSpan simulatedDelay,
    ILogger<TaskRunner> log, ModelRetryPolicy? retryPolicy = null)
{
    private readonly ModelRetryPolicy _retry = retryPolicy ?? new ModelRetryPolicy();

    /// <summary>How long a result may keep trying to reach the master when the task carries no deadline.</summary>
    private static readonly TimeSpan DefaultDeliveryWindow = TimeSpan.FromMinutes(2);

    public async Task<TaskRun> RunAsync(TaskMessage task, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var deadline = task.Deadline is > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(task.Deadline.Value) : DateTimeOffset.UtcNow + DefaultDeliveryWindow;
        string answer = "", error = "", provider = "";
        var permanent = false;
        UsageDetails? usage = null;
        var stream = sender.OpenStream(task, workerId);
        try
        {
            // The user's key stays off the broker: a task that says so has it fetched from its master.
            var key = task.ApiKeyHeld == true ? await sender.FetchKeyAsync(task, workerId, cancellationToken) : task.ApiKey;
            var choice = models.Choose(key, task.Model);
            provider = choice.Provider;
            (answer, usage) = await AskWithRetriesAsync(choice, task, deadline, stream, cancellationToken);
            if (string.IsNullOrWhiteSpace(answer))
                error = "The model returned an empty answer. Please ask again.";
        }
        catch (ModelException e)
        {
            error = e.UserMessage;
            permanent = !e.Retryable;
            log.LogWarning("Task {TaskId}: model call failed ({Kind}{Detail})", task.TaskId, e.Kind, e.Detail is null ? "" : ": " + e.Detail);
        }
        catch (KeyFetchException e)
        {
            error = "The worker could not get your API key from the master, so it did not ask the model. Please send the question again.";
            log.LogWarning("Task {TaskId}: no key from the master: {Reason}", task.TaskId, e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            error = "The worker could not get an answer from the model. Please try again.";
            log.LogError("Task {TaskId}: unexpected model failure: {Error}", task.TaskId, e.GetType().Name);
        }
        catch (OperationCanceledException)
        {
            await stream.DisposeAsync(); // stopping: no result goes out, the master gives the task to another worker
            throw;
        }

        if (cancellationToken.IsCancellationRequested)
        {
            // Stopped (by its master, or the worker is stopping) while the call failed on its way out: no result either.
            await stream.DisposeAsync();
            cancellationToken.ThrowIfCancellationRequested();
        }

        // The simulated model paces its words across this delay; a faster answer waits out the rest.
        if (simulatedDelay - watch.Elapsed is var rest && rest > TimeSpan.Zero && error.Length == 0)
            await Task.Delay(rest, cancellationToken);

        var result = new TaskResult
        {
            WorkerId = workerId,
            SessionId = task.SessionId,
            OriginalQuery = task.Query,
            AiResponse = error.Length == 0 ? answer : "",
            ApiKey = "", // original field 5: new workers leave it empty
            ProcessingTimeMs = watch.ElapsedMilliseconds,
            QueryTimestamp = task.Timestamp,
            CompletionTimestamp = EpochMs.Now(),
            TaskId = task.TaskId ?? "",
            Error = error,
            Provider = provider,
            PermanentError = permanent,
        };
        if (error.Length == 0 && usage?.InputTokenCount is { } prompt) result.PromptTokens = (int)Math.Min(prompt, int.MaxValue);
        if (error.Length == 0 && usage?.OutputTokenCount is { } output) result.OutputTokens = (int)Math.Min(output, int.MaxValue);

        var delivery = DeliverAsync(stream, task, result, deadline, cancellationToken); // the result goes first, then the log line
        LogDone(task.TaskId, task.SessionId, watch.ElapsedMilliseconds, error.Length == 0 ? provider : "error");
        return new TaskRun(result, delivery);
    }

    private async Task<ResultAck> DeliverAsync(IAnswerStream stream, TaskMessage task, TaskResult result, DateTimeOffset deadline,
        CancellationToken cancellationToken)
    {
        await using var _ = stream;
        var ack = await stream.CompleteAsync(result, deadline, cancellationToken);
        if (!ack.Success)
            log.LogWarning("Master refused the result of task {TaskId}: {Message}", task.TaskId, ack.Message);
        return ack;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskId} of session {SessionId} done in {Elapsed} ms ({Outcome})")]
    private partial void LogDone(string? taskId, string sessionId, long elapsed, string outcome);

    /// <summary>
    /// What the model is sent: the operator's system instruction, the conversation so far as user and model turns
    /// (oldest first), then the question. A task from an older master has neither, and is the question alone.
    /// </summary>
    public static List<ChatMessage> MessagesFor(TaskMessage task)
    {
        var messages = new List<ChatMessage>((task.History?.Count ?? 0) + 2);
        if (!string.IsNullOrWhiteSpace(task.SystemInstruction)) messages.Add(new ChatMessage(ChatRole.System, task.SystemInstruction));
        if (task.History is { } history)
            foreach (var turn in history)
                messages.Add(new ChatMessage(turn.Role == ChatTurn.Model ? ChatRole.Assistant : ChatRole.User, turn.Text));
        messages.Add(new ChatMessage(ChatRole.User, task.Query));
        return messages;
    }

    private async Task<(string Answer, UsageDetails? Usage)> AskWithRetriesAsync(ModelChoice choice, TaskMessage task, DateTimeOffset deadline,
        IAnswerStream stream, CancellationToken ct)
    {
        var streamed = false;
        var messages = MessagesFor(task);
        for (var retries = 0; ; retries++)
        {
            var answer = new StringBuilder();
            UsageDetails? usage = null;
            try
            {
                // A retry after text went out starts the answer over on the page too.
                var restart = streamed;
                await foreach (var update in choice.Client.GetStreamingResponseAsync(messages, cancellationToken: ct))
                {
                    foreach (var content in update.Contents)
                        if (content is UsageContent u) usage = u.Details;
                    var text = update.Text;
                    if (text.Length == 0) continue;
                    answer.Append(text);
                    await stream.WriteAsync(text, restart, ct);
                    (restart, streamed) = (false, true);
                }
                return (answer.ToString(), usage);
            }
            catch (ModelException e) when (_retry.NextDelay(e, retries, deadline - DateTimeOffset.UtcNow) is { } delay)
            {
                log.LogInformation("Task {TaskId}: model {Kind}; trying again in {Delay} ms", task.TaskId, e.Kind, (int)delay.TotalMilliseconds);
                await Task.Delay(delay, ct);
            }
        }
    }
}
