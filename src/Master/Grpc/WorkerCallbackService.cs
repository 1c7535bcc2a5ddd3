using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Dispatch;
using AiSystem.Messages.Grpc;
using Grpc.Core;

namespace AiSystem.Master.Grpc;

/// <summary>The gRPC edge: workers' results go to the dispatcher, which decides whether they are accepted.</summary>
public sealed class WorkerCallbackService(IRequiredActor<DispatcherActor> dispatcher) : WorkerCallback.WorkerCallbackBase
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Streamed text reaches the dispatcher (and the browsers) at most this often per task.</summary>
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(50);

    public override Task<ResultAck> SendResult(TaskResult request, ServerCallContext context) =>
        DeliverAsync(request, context.CancellationToken);

    /// <summary>
    /// Text chunks go on as coalesced <see cref="StreamTaskText"/> (best effort); the result on the last chunk takes
    /// exactly the path of <see cref="SendResult"/>.
    /// </summary>
    public override async Task<ResultAck> StreamResult(IAsyncStreamReader<TaskChunk> requestStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var stream = new AnswerStream(ProgressInterval);
        TaskResult? result = null;
        Task<bool>? next = null;
        while (result is null)
        {
            next ??= requestStream.MoveNext(ct);
            // Pending text goes out when due even if the worker is silent for a while.
            while (stream.HasPending && !next.IsCompleted)
            {
                var wait = stream.DueIn(DateTimeOffset.UtcNow);
                if (wait > TimeSpan.Zero && await Task.WhenAny(next, Task.Delay(wait, ct)) == next) break;
                Tell(stream.Flush(DateTimeOffset.UtcNow));
            }
            if (!await next) break;
            next = null;
            var chunk = requestStream.Current;
            if (stream.Add(chunk) is { } error)
                throw new RpcException(new global::Grpc.Core.Status(StatusCode.InvalidArgument, error));
            result = chunk.Result;
            Tell(stream.Flush(DateTimeOffset.UtcNow));
        }
        Tell(stream.Flush(DateTimeOffset.UtcNow, force: true));
        if (result is null)
            return new ResultAck { Success = false, Message = "The stream ended without a result; send it with SendResult." };
        return await DeliverAsync(result, ct);
    }

    private void Tell(StreamTaskText? progress)
    {
        if (progress is not null) dispatcher.ActorRef.Tell(progress);
    }

    private async Task<ResultAck> DeliverAsync(TaskResult request, CancellationToken ct)
    {
        // The original field 5 (api_key) is never stored, logged or passed on.
        request.ApiKey = "";
        try
        {
            return await dispatcher.ActorRef.Ask<ResultAck>(new CompleteTask(WorkerResult.From(request)), AskTimeout, ct);
        }
        catch (AskTimeoutException)
        {
            throw new RpcException(new global::Grpc.Core.Status(StatusCode.Unavailable, "The answer is not stored yet; send the result again."));
        }
    }
}
