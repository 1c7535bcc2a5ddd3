using System.Collections.Concurrent;
using AiSystem.Messages;
using AiSystem.Messages.Grpc;
using Grpc.Core;
using Grpc.Net.Client;

namespace AiSystem.Worker;

/// <summary>Sends results to the master that asked (<c>grpc_endpoint</c>), one pooled channel per endpoint.</summary>
public interface IResultSender
{
    Task<ResultAck> SendAsync(string grpcEndpoint, TaskResult result, DateTimeOffset giveUpAt, CancellationToken cancellationToken);

    /// <summary>Where one task's answer streams while the model writes it. Without streaming: only the result, with <see cref="SendAsync"/>.</summary>
    IAnswerStream OpenStream(TaskMessage task, string workerId) => new UnstreamedAnswer(this, task.GrpcEndpoint);

    /// <summary>
    /// The user's key of a task whose message said <c>api_key_held</c>, from the master that sent it (gRPC
    /// <c>FetchKey</c>, proven by the task's alias). Throws <see cref="KeyFetchException"/> with a reason when there is none.
    /// </summary>
    Task<string> FetchKeyAsync(TaskMessage task, string workerId, CancellationToken cancellationToken) =>
        throw new KeyFetchException("this worker cannot fetch keys from its master");
}

/// <summary>The master gave no key for the task: the reason is for the log, never the key.</summary>
public sealed class KeyFetchException(string reason, Exception? inner = null) : Exception(reason, inner);

/// <summary>One task's answer on its way to the master: text as it comes (best effort), then the result (reliably).</summary>
public interface IAnswerStream : IAsyncDisposable
{
    /// <summary>The next piece of the answer; <paramref name="restart"/>: the model started over. Never throws for transport trouble.</summary>
    Task WriteAsync(string text, bool restart, CancellationToken cancellationToken);

    /// <summary>Delivers the result: on the stream when it works, else with <c>SendResult</c> and its retries.</summary>
    Task<ResultAck> CompleteAsync(TaskResult result, DateTimeOffset giveUpAt, CancellationToken cancellationToken);
}

/// <summary>For masters (or test doubles) without streaming: the text is dropped, the result goes the old way.</summary>
public sealed class UnstreamedAnswer(IResultSender sender, string grpcEndpoint) : IAnswerStream
{
    public Task WriteAsync(string text, bool restart, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<ResultAck> CompleteAsync(TaskResult result, DateTimeOffset giveUpAt, CancellationToken cancellationToken) =>
        sender.SendAsync(grpcEndpoint, result, giveUpAt, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <param name="masterCa">
/// When set (<c>Tls__CaFile</c>), an <c>https://</c> master must present a certificate naming its host and chaining to
/// this CA; otherwise the system's trust store decides. Validation is never turned off.
/// </param>
public sealed class GrpcResultSender(ILogger<GrpcResultSender> log, TimeSpan? minTextInterval = null, IMasterDirectory? masters = null,
    AiSystem.Messages.Tls.TrustedCa? masterCa = null)
    : IResultSender, IDisposable
{
    /// <summary>
    /// A result's retry is one small call. In a failover the master taking over must hear it within its recovery grace
    /// (15 s) to take it instead of running the task again: retries never wait longer than this.
    /// </summary>
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);
    private readonly IMasterDirectory? _masters = masters;
    /// <summary>A master that said UNIMPLEMENTED to StreamResult gets plain results for this long (it may be upgraded meanwhile).</summary>
    private static readonly TimeSpan RememberOldMaster = TimeSpan.FromMinutes(10);
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.OrdinalIgnoreCase);
    private readonly ILogger _log = log;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _unaryUntil = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>Masters that said UNIMPLEMENTED to Deliver: per-task StreamResult calls until then.</summary>
    private readonly ConcurrentDictionary<string, DateTimeOffset> _noDeliveryUntil = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, DeliveryCall> _deliveries = new(StringComparer.OrdinalIgnoreCase);
    private int _openStreams;

    internal ILogger Log => _log;

    /// <summary>The interval between two pieces of one answer's text, with as many answers streaming as now.</summary>
    internal TimeSpan CurrentTextInterval() => TextInterval(Volatile.Read(ref _openStreams), _minTextInterval);
    internal void StreamStarted() => Interlocked.Increment(ref _openStreams);
    internal void StreamEnded() => Interlocked.Decrement(ref _openStreams);

    /// <summary>
    /// How often one streamed answer may send text: every 50 ms alone, less often the more answers this worker streams
    /// at once (5 ms of budget each), so that a worker with a thousand answers in flight sends about 200 pieces of text a
    /// second in all rather than one per word per answer. Text is best effort; the result always carries the whole answer.
    /// </summary>
    public static TimeSpan TextInterval(int openStreams, TimeSpan? floor = null) =>
        TimeSpan.FromMilliseconds(Math.Max((floor ?? DefaultTextInterval).TotalMilliseconds, openStreams * 5));

    public static readonly TimeSpan DefaultTextInterval = TimeSpan.FromMilliseconds(50);
    private readonly TimeSpan _minTextInterval = minTextInterval ?? DefaultTextInterval;

    /// <summary>
    /// Retries with backoff while the master is unreachable, until <paramref name="giveUpAt"/>; retries go to the other
    /// masters of the cluster too (<see cref="MasterEndpoints.Target"/>): the one that sent the task may be gone.
    /// </summary>
    public async Task<ResultAck> SendAsync(string grpcEndpoint, TaskResult result, DateTimeOffset giveUpAt, CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromMilliseconds(200);
        for (var attempt = 1; ; attempt++)
        {
            var target = attempt == 1 || _masters is null ? grpcEndpoint : _masters.Current().Target(grpcEndpoint, attempt);
            try
            {
                return await Client(target).SendResultAsync(result, deadline: DateTime.UtcNow.AddSeconds(15), cancellationToken: cancellationToken);
            }
            catch (RpcException e) when (IsTransient(e.StatusCode) && DateTimeOffset.UtcNow + backoff < giveUpAt && !cancellationToken.IsCancellationRequested)
            {
                _log.LogWarning("Result of task {TaskId} not delivered to {Endpoint} (attempt {Attempt}: {Status}); retrying in {Delay} ms",
                    result.TaskId, target, attempt, e.StatusCode, (int)backoff.TotalMilliseconds);
                await Task.Delay(backoff, cancellationToken);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }

    public IAnswerStream OpenStream(TaskMessage task, string workerId)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (string.IsNullOrEmpty(task.TaskId) // an old master: it could not match chunks to a task
            || (_unaryUntil.TryGetValue(task.GrpcEndpoint, out var until) && until > DateTimeOffset.UtcNow))
            return new UnstreamedAnswer(this, task.GrpcEndpoint);
        if (_noDeliveryUntil.TryGetValue(task.GrpcEndpoint, out var noDelivery) && noDelivery > DateTimeOffset.UtcNow)
            return new GrpcAnswerStream(this, task, workerId);
        return new DeliveredAnswer(this, Delivery(task.GrpcEndpoint), task, workerId);
    }

    /// <summary>The open Deliver call to this master, or a new one (the last one broke, or there was none).</summary>
    private DeliveryCall Delivery(string endpoint)
    {
        while (true)
        {
            if (_deliveries.TryGetValue(endpoint, out var open) && !open.Broken) return open;
            var fresh = new DeliveryCall(Client(endpoint), (call, error) => Broke(endpoint, call, error));
            if (open is null ? _deliveries.TryAdd(endpoint, fresh) : _deliveries.TryUpdate(endpoint, fresh, open)) return fresh;
            _ = fresh.DisposeAsync();
        }
    }

    private void Broke(string endpoint, DeliveryCall call, Exception error)
    {
        _deliveries.TryRemove(new KeyValuePair<string, DeliveryCall>(endpoint, call));
        if (error is RpcException { StatusCode: StatusCode.Unimplemented })
        {
            _noDeliveryUntil[endpoint] = DateTimeOffset.UtcNow + RememberOldMaster;
            _log.LogInformation("Master {Endpoint} does not take Deliver (an older version): answers go with StreamResult and SendResult", endpoint);
        }
        else if (error is not ObjectDisposedException)
        {
            _log.LogDebug("Delivery call to {Endpoint} ended: {Error}", endpoint, error.Message);
        }
        _ = call.DisposeAsync();
    }

    private static bool IsTransient(StatusCode code) =>
        code is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.ResourceExhausted or StatusCode.Unknown;

    public async Task<string> FetchKeyAsync(TaskMessage task, string workerId, CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromMilliseconds(200);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var reply = await Client(task.GrpcEndpoint).FetchKeyAsync(
                    new KeyRequest { TaskId = task.TaskId ?? "", WorkerId = workerId, SessionId = task.SessionId },
                    deadline: DateTime.UtcNow.AddSeconds(15), cancellationToken: cancellationToken);
                return reply.Found && reply.ApiKey.Length > 0 ? reply.ApiKey : throw new KeyFetchException(reply.Message);
            }
            catch (RpcException e) when (IsTransient(e.StatusCode) && attempt < 5 && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(backoff, cancellationToken);
                backoff *= 2;
            }
            catch (RpcException e)
            {
                throw new KeyFetchException($"{task.GrpcEndpoint} answered {e.StatusCode}", e);
            }
        }
    }

    // One channel per master. A streamed answer holds its HTTP/2 stream for as long as the model writes, and a server
    // allows only so many streams per connection (Kestrel: 100 by default), so the channel opens more connections
    // when one is full instead of queueing answers behind it.
    private WorkerCallback.WorkerCallbackClient Client(string endpoint) => new(_channels.GetOrAdd(endpoint, e =>
        GrpcChannel.ForAddress(e.Contains("://", StringComparison.Ordinal) ? e : "http://" + e,
            new GrpcChannelOptions
            {
                MaxReceiveMessageSize = 4 * 1024 * 1024,
                HttpHandler = new SocketsHttpHandler
                {
                    EnableMultipleHttp2Connections = true,
                    KeepAlivePingDelay = TimeSpan.FromSeconds(30),
                    KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                    SslOptions = masterCa is null ? new() : new() { RemoteCertificateValidationCallback = masterCa.ServerValidator() },
                },
            })));

    public void Dispose()
    {
        foreach (var call in _deliveries.Values) call.DisposeAsync().AsTask().GetAwaiter().GetResult();
        foreach (var channel in _channels.Values) channel.Dispose();
    }

    /// <summary>A <c>StreamResult</c> call, opened with the first piece of text.</summary>
    private sealed class GrpcAnswerStream(GrpcResultSender owner, TaskMessage task, string workerId) : IAnswerStream
    {
        private static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(15);
        private static readonly TimeSpan MaxCallTime = TimeSpan.FromMinutes(10);
        private AsyncClientStreamingCall<TaskChunk, ResultAck>? _call;
        private bool _broken;
        private readonly HeldText _text = new(task, workerId);

        public async Task WriteAsync(string text, bool restart, CancellationToken cancellationToken)
        {
            if (_broken) return;
            if (_text.Hold(text, restart, owner.CurrentTextInterval())) await SendHeldAsync(cancellationToken);
        }

        private async Task SendHeldAsync(CancellationToken cancellationToken)
        {
            if (_text.IsEmpty) return;
            var chunk = _text.Take();
            try
            {
                if (_call is null)
                {
                    _call = owner.Client(task.GrpcEndpoint).StreamResult(deadline: DateTime.UtcNow + MaxCallTime, cancellationToken: cancellationToken);
                    owner.StreamStarted();
                }
                await _call.RequestStream.WriteAsync(chunk, cancellationToken);
            }
            catch (Exception e) when (e is RpcException or InvalidOperationException or IOException or ObjectDisposedException)
            {
                // Text is best effort: the result still goes (below) on its own.
                _broken = true;
                owner._log.LogDebug("Streaming task {TaskId} to {Endpoint} stopped: {Error}", task.TaskId, task.GrpcEndpoint, e.Message);
            }
        }

        public async Task<ResultAck> CompleteAsync(TaskResult result, DateTimeOffset giveUpAt, CancellationToken cancellationToken)
        {
            if (_call is not null && !_broken) await SendHeldAsync(cancellationToken);
            if (_call is not null && !_broken)
            {
                try
                {
                    await _call.RequestStream.WriteAsync(_text.Last(result), cancellationToken);
                    await _call.RequestStream.CompleteAsync();
                    return await _call.ResponseAsync.WaitAsync(AckTimeout, cancellationToken);
                }
                catch (Exception e) when (e is RpcException or InvalidOperationException or IOException or ObjectDisposedException or TimeoutException)
                {
                    owner._log.LogDebug("Result of task {TaskId} not delivered on its stream ({Error}); sending it alone", task.TaskId, e.Message);
                }
            }
            if (_call is not null) await NoteOldMasterAsync(_call);
            // SendResult: the dispatcher takes a result once; one that the stream did deliver comes back as a duplicate, acked.
            return await owner.SendAsync(task.GrpcEndpoint, result, giveUpAt, cancellationToken);
        }

        private async Task NoteOldMasterAsync(AsyncClientStreamingCall<TaskChunk, ResultAck> call)
        {
            try
            {
                await call.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(1));
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
            {
                owner._unaryUntil[task.GrpcEndpoint] = DateTimeOffset.UtcNow + RememberOldMaster;
                owner._log.LogInformation("Master {Endpoint} does not take streamed answers (an older version): results go with SendResult", task.GrpcEndpoint);
            }
            catch (Exception)
            {
                // any other end of the call: nothing to learn from it
            }
        }

        public ValueTask DisposeAsync()
        {
            if (_call is not null)
            {
                owner.StreamEnded();
                _call.Dispose();
                _call = null;
            }
            return ValueTask.CompletedTask;
        }
    }
}
