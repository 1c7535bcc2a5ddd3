using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Dispatch;
using AiSystem.Messages.Grpc;
using Grpc.Core;

namespace AiSystem.Master.Grpc;

/// <summary>The gRPC edge: workers' results go to the dispatcher, which decides whether they are accepted.</summary>
public sealed class WorkerCallbackService(IRequiredActor<DispatcherActor> dispatcher, IHostApplicationLifetime lifetime)
    : WorkerCallback.WorkerCallbackBase
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Streamed text reaches the dispatcher (and the browsers) at most this often per task.</summary>
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(50);

    public override Task<ResultAck> SendResult(TaskResult request, ServerCallContext context) =>
        DeliverAsync(request, context.CancellationToken);

    /// <summary>
    /// A user's key for the worker its task is assigned to, proven by the assignment's alias (the dispatcher checks
    /// both): the key then never travels on the broker. Anything else gets <c>found = false</c> and why.
    /// </summary>
    public override async Task<KeyReply> FetchKey(KeyRequest request, ServerCallContext context)
    {
        if (ResultLimits.Check(request) is { } error) throw Invalid(error);
        try
        {
            var key = await dispatcher.ActorRef.Ask<TaskKey>(new FetchTaskKey(request.TaskId, request.WorkerId, request.SessionId),
                AskTimeout, context.CancellationToken);
            return key.ApiKey.Length > 0 ? new KeyReply { Found = true, ApiKey = key.ApiKey } : new KeyReply { Found = false, Message = key.Error };
        }
        catch (AskTimeoutException)
        {
            throw new RpcException(new global::Grpc.Core.Status(StatusCode.Unavailable, "The dispatcher did not answer in time; ask again."));
        }
    }

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

    /// <summary>
    /// One long-lived call per worker: chunks of all its tasks, interleaved. Text goes on at once (the worker holds
    /// it for at least 50 ms per task already); each result takes the path of <see cref="SendResult"/>, and its
    /// <c>ResultAck</c>, naming the task, is written back when the dispatcher answers, in whatever order that is. The
    /// call reads on while results are being stored: nothing here waits on the journal. When the master stops (after
    /// its drain), the call stops reading, answers the results it has, and ends: a call that never ends would hold the
    /// server's shutdown for its whole timeout. The worker sends anything later by <c>SendResult</c>, to the next master.
    /// </summary>
    public override async Task Deliver(IAsyncStreamReader<TaskChunk> requestStream, IServerStreamWriter<ResultAck> responseStream,
        ServerCallContext context)
    {
        var ct = context.CancellationToken;
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(ct, lifetime.ApplicationStopping);
        var acks = System.Threading.Channels.Channel.CreateUnbounded<ResultAck>(new() { SingleReader = true });
        var writer = WriteAcksAsync(acks.Reader, responseStream, ct);
        var streams = new Dictionary<string, AnswerStream>(StringComparer.Ordinal);
        var pending = 0;
        var readingEnded = false; // set once no more results can come: the last one to be stored then ends the call
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        string? workerId = null;
        try
        {
            while (await NextAsync(requestStream, reading.Token))
            {
                var chunk = requestStream.Current;
                if (string.IsNullOrEmpty(chunk.TaskId) || string.IsNullOrEmpty(chunk.WorkerId))
                    throw Invalid("Every chunk needs task_id and worker_id.");
                if ((workerId ??= chunk.WorkerId) != chunk.WorkerId)
                    throw Invalid("All chunks of a Deliver call must come from the same worker_id.");
                if (!streams.TryGetValue(chunk.TaskId, out var stream) || stream.Attempt != chunk.Attempt)
                    streams[chunk.TaskId] = stream = new AnswerStream(TimeSpan.Zero);
                if (stream.Add(chunk) is { } error) throw Invalid(error);
                Tell(stream.Flush(DateTimeOffset.UtcNow, force: true));
                if (chunk.Result is not { } result) continue;
                streams.Remove(chunk.TaskId);
                var taskId = chunk.TaskId;
                Interlocked.Increment(ref pending);
                _ = DeliverAsync(result, ct).ContinueWith(t =>
                {
                    var ack = t.IsCompletedSuccessfully ? t.Result
                        : new ResultAck { Success = false, Retry = true, Message = "The answer is not stored yet; send the result again." };
                    ack.TaskId = taskId;
                    acks.Writer.TryWrite(ack);
                    if (Interlocked.Decrement(ref pending) == 0 && Volatile.Read(ref readingEnded)) done.TrySetResult();
                }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
            // The worker closed its side: answer what is still being stored, then end the call.
            Volatile.Write(ref readingEnded, true);
            if (Volatile.Read(ref pending) > 0) await done.Task.WaitAsync(AskTimeout + TimeSpan.FromSeconds(5), ct);
        }
        finally
        {
            acks.Writer.TryComplete();
            await writer;
        }
    }

    /// <summary>The next chunk; false when the worker closed its side, or when the master is stopping.</summary>
    private async Task<bool> NextAsync(IAsyncStreamReader<TaskChunk> requestStream, CancellationToken reading)
    {
        try
        {
            return await requestStream.MoveNext(reading);
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return false;
        }
    }

    private static async Task WriteAcksAsync(System.Threading.Channels.ChannelReader<ResultAck> acks, IServerStreamWriter<ResultAck> responseStream,
        CancellationToken ct)
    {
        try
        {
            await foreach (var ack in acks.ReadAllAsync(ct)) await responseStream.WriteAsync(ack, ct);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or IOException)
        {
            // The worker is gone: its unacknowledged results come back by SendResult.
        }
    }

    private static RpcException Invalid(string error) => new(new global::Grpc.Core.Status(StatusCode.InvalidArgument, error));

    private void Tell(StreamTaskText? progress)
    {
        if (progress is not null) dispatcher.ActorRef.Tell(progress);
    }

    private async Task<ResultAck> DeliverAsync(TaskResult request, CancellationToken ct)
    {
        // The original field 5 (api_key) is never stored, logged or passed on.
        request.ApiKey = "";
        if (ResultLimits.Check(request) is { } tooBig) return new ResultAck { Success = false, Message = tooBig };
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
