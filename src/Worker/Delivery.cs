using System.Collections.Concurrent;
using System.Threading.Channels;
using AiSystem.Messages;
using AiSystem.Messages.Grpc;
using Grpc.Core;

namespace AiSystem.Worker;

/// <summary>
/// The one <c>Deliver</c> call to a master that all of this worker's tasks share: their text chunks and results go
/// out on it in order, and each result's acknowledgement comes back naming its task. A result costs one message on
/// an open HTTP/2 stream instead of a call of its own. When the call breaks, every result still waiting for its
/// acknowledgement fails here and its task sends it again by <c>SendResult</c> (the master drops a duplicate).
/// </summary>
internal sealed class DeliveryCall : IAsyncDisposable
{
    private readonly AsyncDuplexStreamingCall<TaskChunk, ResultAck> _call;
    private readonly Channel<TaskChunk> _outgoing = Channel.CreateUnbounded<TaskChunk>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, TaskCompletionSource<ResultAck>> _waiting = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Action<DeliveryCall, Exception> _broke;
    private readonly Task _writing;
    private readonly Task _reading;
    private Exception? _failure;
    private int _disposed;

    public DeliveryCall(WorkerCallback.WorkerCallbackClient client, Action<DeliveryCall, Exception> broke)
    {
        _broke = broke;
        _call = client.Deliver(cancellationToken: _stop.Token);
        _writing = Task.Run(WriteAsync);
        _reading = Task.Run(ReadAsync);
    }

    public bool Broken => Volatile.Read(ref _failure) is not null;

    /// <summary>Queues a chunk of text; false once the call is broken (text is best effort).</summary>
    public bool TrySend(TaskChunk chunk) => !Broken && _outgoing.Writer.TryWrite(chunk);

    /// <summary>Queues a result; completes with its acknowledgement, or fails when the call breaks first.</summary>
    public Task<ResultAck> SendResultAsync(TaskChunk chunk)
    {
        var ack = new TaskCompletionSource<ResultAck>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiting[chunk.TaskId] = ack;
        if (Volatile.Read(ref _failure) is { } failure || !_outgoing.Writer.TryWrite(chunk))
        {
            _waiting.TryRemove(chunk.TaskId, out _);
            ack.TrySetException(Volatile.Read(ref _failure) ?? new InvalidOperationException("the delivery call is closed"));
        }
        return ack.Task;
    }

    private async Task WriteAsync()
    {
        try
        {
            await foreach (var chunk in _outgoing.Reader.ReadAllAsync(_stop.Token))
                await _call.RequestStream.WriteAsync(chunk, _stop.Token);
        }
        catch (Exception e)
        {
            Break(e);
        }
    }

    private async Task ReadAsync()
    {
        try
        {
            while (await _call.ResponseStream.MoveNext(_stop.Token))
            {
                var ack = _call.ResponseStream.Current;
                if (_waiting.TryRemove(ack.TaskId, out var waiting)) waiting.TrySetResult(ack);
            }
            Break(new RpcException(new Status(StatusCode.Unavailable, "the master ended the delivery call")));
        }
        catch (Exception e)
        {
            Break(e);
        }
    }

    private void Break(Exception e)
    {
        if (Interlocked.CompareExchange(ref _failure, e, null) is not null) return;
        _outgoing.Writer.TryComplete();
        // The owner learns first (an old master is remembered as one), so that a task whose result fails here and
        // goes by SendResult, and the next task after it, already see what this call's end taught.
        _broke(this, e);
        foreach (var (id, waiting) in _waiting)
            if (_waiting.TryRemove(id, out _)) waiting.TrySetException(e);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        Break(new ObjectDisposedException(nameof(DeliveryCall)));
        await _stop.CancelAsync();
        try { await Task.WhenAll(_writing, _reading); } catch (Exception) { /* already broken */ }
        _call.Dispose();
        _stop.Dispose();
    }
}

/// <summary>One task's answer on the shared <see cref="DeliveryCall"/>: held text as it comes, then the result.</summary>
internal sealed class DeliveredAnswer(GrpcResultSender owner, DeliveryCall call, TaskMessage task, string workerId) : IAnswerStream
{
    private static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(15);
    private readonly HeldText _text = new(task, workerId);
    private bool _streaming;

    public Task WriteAsync(string text, bool restart, CancellationToken cancellationToken)
    {
        if (!_text.Hold(text, restart, owner.CurrentTextInterval())) return Task.CompletedTask;
        if (!_streaming) { _streaming = true; owner.StreamStarted(); }
        call.TrySend(_text.Take());
        return Task.CompletedTask;
    }

    /// <summary>
    /// The result goes the moment the model is done; text still held is not sent (the result carries the whole answer,
    /// which replaces the text on the page). Without an acknowledgement in time, or when the call broke, the result goes
    /// by <c>SendResult</c> and its retries.
    /// </summary>
    public async Task<ResultAck> CompleteAsync(TaskResult result, DateTimeOffset giveUpAt, CancellationToken cancellationToken)
    {
        try
        {
            var ack = await call.SendResultAsync(_text.Last(result)).WaitAsync(AckTimeout, cancellationToken);
            if (ack.Success || !ack.Retry) return ack;
            owner.Log.LogDebug("Result of task {TaskId} not taken yet on the delivery call ({Message}); sending it alone", task.TaskId, ack.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            owner.Log.LogDebug("Result of task {TaskId} not acknowledged on the delivery call ({Error}); sending it alone", task.TaskId, e.Message);
        }
        return await owner.SendAsync(task.GrpcEndpoint, result, giveUpAt, cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        if (_streaming) owner.StreamEnded();
        return ValueTask.CompletedTask;
    }
}
