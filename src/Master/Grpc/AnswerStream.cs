using System.Text;
using AiSystem.Master.Dispatch;
using AiSystem.Messages.Grpc;

namespace AiSystem.Master.Grpc;

/// <summary>
/// One <c>StreamResult</c> call as the gRPC edge sees it: checks that every chunk belongs to the task the call began
/// with, and coalesces the pieces into <see cref="StreamTaskText"/> messages at most every <c>interval</c>, so a model
/// that writes a word at a time does not flood the dispatcher and the browsers. Nothing here is persisted.
/// </summary>
public sealed class AnswerStream(TimeSpan interval)
{
    private readonly StringBuilder _pending = new();
    private string? _taskId;
    private string _workerId = "";
    private string _sessionId = ""; // the assignment's session alias: the dispatcher checks it
    private int _attempt;
    private long _lastSequence;
    private int _length;            // characters of the answer streamed so far (sent or pending)
    private int _pendingOffset;     // where the pending text starts in the answer
    private bool _pendingRestart;   // a restart not passed on yet (even with no text)
    private DateTimeOffset _lastFlush = DateTimeOffset.MinValue;

    public string? TaskId => _taskId;
    public int Attempt => _attempt;
    public bool HasPending => _pending.Length > 0 || _pendingRestart;

    /// <summary>Takes one chunk; returns why it is not acceptable (the call is then refused), or null.</summary>
    public string? Add(TaskChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        if (string.IsNullOrEmpty(chunk.TaskId) || string.IsNullOrEmpty(chunk.WorkerId))
            return "Every chunk needs task_id and worker_id.";
        if (_taskId is null)
        {
            (_taskId, _workerId, _sessionId, _attempt) = (chunk.TaskId, chunk.WorkerId, chunk.SessionId, chunk.Attempt);
        }
        else if (chunk.TaskId != _taskId || chunk.WorkerId != _workerId || chunk.Attempt != _attempt || chunk.SessionId != _sessionId)
        {
            return "All chunks of a StreamResult call must be for the same task_id, worker_id, session_id and attempt.";
        }
        if (ResultLimits.Check(chunk) is { } tooBig) return tooBig;
        if (chunk.Sequence <= _lastSequence)
            return $"Chunk sequence {chunk.Sequence} after {_lastSequence}: sequence numbers must increase.";
        _lastSequence = chunk.Sequence;
        if (chunk.Result is { } r && ((r.TaskId.Length > 0 && r.TaskId != _taskId) || r.WorkerId != _workerId))
            return "The result on the last chunk is for another task or worker than its chunks.";

        if (chunk.Restart)
        {
            _pending.Clear();
            _length = 0;
            _pendingOffset = 0;
            _pendingRestart = true;
        }
        _pending.Append(chunk.Text);
        _length += chunk.Text.Length;
        return null;
    }

    /// <summary>How long until pending text is due (zero when it is due now).</summary>
    public TimeSpan DueIn(DateTimeOffset now)
    {
        var due = _lastFlush == DateTimeOffset.MinValue ? now : _lastFlush + interval;
        return due <= now ? TimeSpan.Zero : due - now;
    }

    /// <summary>The pending text as one progress message when it is due (or <paramref name="force"/>), else null.</summary>
    public StreamTaskText? Flush(DateTimeOffset now, bool force = false)
    {
        if (!HasPending || _taskId is null || (!force && DueIn(now) > TimeSpan.Zero)) return null;
        var progress = new StreamTaskText(_taskId, _workerId, _sessionId, _attempt, _pendingOffset, _pending.ToString());
        _pending.Clear();
        _pendingRestart = false;
        _pendingOffset = _length;
        _lastFlush = now;
        return progress;
    }
}
