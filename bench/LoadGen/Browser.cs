using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace AiSystem.LoadGen;

/// <summary>What became of one question: when it was sent, when (and whether) its answer arrived.</summary>
public sealed record Outcome(string TaskId, long SentTicks, long? AnsweredTicks, bool Failed, string? WorkerId = null)
{
    public long? LatencyTicks => AnsweredTicks - SentTicks;
}

/// <summary>
/// One browser on <c>/hubs/chat</c> (WebSockets, no negotiation round trip). Asks questions and matches every
/// <c>AiResponse</c>/<c>TaskFailed</c> to the question it answers, counting answers that arrive twice or for a task
/// this browser never asked.
/// </summary>
public sealed class Browser : IAsyncDisposable
{
    private readonly HubConnection _connection;
    private readonly Dictionary<string, TaskCompletionSource<(long Ticks, bool Failed, string? Worker)>> _waiting = [];
    private readonly Dictionary<string, (long Ticks, bool Failed, string? Worker)> _early = [];
    private readonly TaskCompletionSource _sessionStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<string> _done = [];
    private readonly object _gate = new();
    private long _duplicates, _queuedEvents, _chunkEvents;

    /// <summary><c>TaskQueued</c> pushes received (the queue position, sent again each time it moves).</summary>
    public long QueuedEvents => Interlocked.Read(ref _queuedEvents);

    /// <summary><c>AiResponseChunk</c> pushes received (streamed text).</summary>
    public long ChunkEvents => Interlocked.Read(ref _chunkEvents);

    public Browser(string master)
    {
        _connection = new HubConnectionBuilder()
            .WithUrl($"{master}/hubs/chat", HttpTransportType.WebSockets, o => o.SkipNegotiation = true)
            .Build();
        _connection.ServerTimeout = TimeSpan.FromMinutes(2); // a loaded box must not drop idle browsers mid-run
        _connection.On<JsonElement>("AiResponse", r => Complete(r.GetProperty("taskId").GetString()!, failed: false,
            r.TryGetProperty("workerId", out var w) ? w.GetString() : null));
        _connection.On<JsonElement>("TaskFailed", r => Complete(r.GetProperty("taskId").GetString()!, failed: true, null));
        _connection.On<JsonElement>("SessionStarted", _ => _sessionStarted.TrySetResult());
        _connection.On<JsonElement>("TaskQueued", _ => Interlocked.Increment(ref _queuedEvents));
        _connection.On<JsonElement>("AiResponseChunk", _ => Interlocked.Increment(ref _chunkEvents));
        _connection.Closed += e =>
        {
            _sessionStarted.TrySetException(new InvalidOperationException($"the master closed the connection before SessionStarted: {e?.Message}"));
            return Task.CompletedTask;
        };
        _connection.On<JsonElement>("TaskAssigned", r => Assigned?.Invoke(
            r.GetProperty("taskId").GetString()!, r.GetProperty("workerId").GetString()!, r.GetProperty("attempt").GetInt32(),
            Stopwatch.GetTimestamp()));
    }

    /// <summary>Raised on every <c>TaskAssigned</c>: task id, worker id, attempt, Stopwatch timestamp.</summary>
    public event Action<string, string, int, long>? Assigned;

    /// <summary>Answers that came a second time for the same task.</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);

    /// <summary>Answers for tasks this browser never got a task id for.</summary>
    public int Unexpected { get { lock (_gate) return _early.Count; } }

    /// <summary>
    /// Opens the WebSocket and waits for <c>SessionStarted</c>: the session exists and the browser may ask (as
    /// seedbench's load.js waits for the seed's <c>session-id</c>).
    /// </summary>
    public async Task StartAsync(CancellationToken ct = default)
    {
        await _connection.StartAsync(ct);
        await _sessionStarted.Task.WaitAsync(TimeSpan.FromSeconds(60), ct);
    }

    private void Complete(string taskId, bool failed, string? worker)
    {
        var now = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            if (!_done.Add(taskId)) { Interlocked.Increment(ref _duplicates); return; }
            if (_waiting.Remove(taskId, out var tcs)) tcs.TrySetResult((now, failed, worker));
            else _early[taskId] = (now, failed, worker); // the answer came before SubmitQuery returned
        }
    }

    /// <summary>Sends a question; the returned task completes when its answer arrives or <paramref name="timeout"/> passes.</summary>
    public async Task<Task<Outcome>> SubmitAsync(string query, TimeSpan timeout)
    {
        var sent = Stopwatch.GetTimestamp();
        // As the page does: its own id for the question.
        var reply = await _connection.InvokeAsync<JsonElement>("SubmitQuery", new { query, apiKey = "", taskId = Guid.NewGuid().ToString("D") });
        var taskId = reply.GetProperty("taskId").GetString()!;
        // The asking connection hears of the first assignment in the reply (no TaskAssigned event of its own).
        if (reply.TryGetProperty("workerId", out var w) && w.ValueKind == JsonValueKind.String && Assigned is { } assigned)
            assigned(taskId, w.GetString()!, reply.TryGetProperty("attempt", out var a) && a.ValueKind == JsonValueKind.Number ? a.GetInt32() : 1,
                Stopwatch.GetTimestamp());
        Task<(long, bool, string?)> answer;
        lock (_gate)
        {
            if (_early.Remove(taskId, out var early)) answer = Task.FromResult(early);
            else
            {
                var tcs = new TaskCompletionSource<(long, bool, string?)>(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting[taskId] = tcs;
                answer = tcs.Task;
            }
        }
        return Wait(taskId, sent, answer, timeout);
    }

    private async Task<Outcome> Wait(string taskId, long sent, Task<(long Ticks, bool Failed, string? Worker)> answer, TimeSpan timeout)
    {
        try
        {
            var (ticks, failed, worker) = await answer.WaitAsync(timeout);
            return new Outcome(taskId, sent, ticks, failed, worker);
        }
        catch (TimeoutException)
        {
            lock (_gate) _waiting.Remove(taskId);
            return new Outcome(taskId, sent, null, false); // lost: never answered
        }
    }

    /// <summary>Asks and waits for the answer.</summary>
    public async Task<Outcome> AskAsync(string query, TimeSpan timeout) => await await SubmitAsync(query, timeout);

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
