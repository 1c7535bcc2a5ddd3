using AiSystem.Messages;
using AiSystem.Messages.Grpc;

namespace AiSystem.Worker;

/// <summary>
/// One task's answer text on its way out, for either transport (<c>Deliver</c> or <c>StreamResult</c>): the text held
/// since the last send, whether it starts the answer over, when it last went, and the chunks' sequence. The first text
/// waits one interval from the task's start: an answer done by then sends no text at all.
/// </summary>
internal sealed class HeldText(TaskMessage task, string workerId)
{
    private readonly System.Text.StringBuilder _held = new();
    private bool _restart;
    private long _sequence;
    private long _lastSentAt = Environment.TickCount64;

    /// <summary>Holds the next piece; true when a send is due (one interval since the last one).</summary>
    public bool Hold(string text, bool restart, TimeSpan interval)
    {
        if (restart) { _held.Clear(); _restart = true; }
        _held.Append(text);
        return Environment.TickCount64 - _lastSentAt >= (long)interval.TotalMilliseconds;
    }

    public bool IsEmpty => _held.Length == 0 && !_restart;

    /// <summary>The held text as the next chunk; the interval runs from now.</summary>
    public TaskChunk Take()
    {
        var chunk = Chunk(_held.ToString(), _restart, null);
        _held.Clear();
        _restart = false;
        _lastSentAt = Environment.TickCount64;
        return chunk;
    }

    /// <summary>The last chunk: no text (the result carries the whole answer), the result.</summary>
    public TaskChunk Last(TaskResult result) => Chunk("", false, result);

    private TaskChunk Chunk(string text, bool restart, TaskResult? result)
    {
        var chunk = new TaskChunk
        {
            TaskId = task.TaskId ?? "",
            WorkerId = workerId,
            SessionId = task.SessionId,
            Attempt = task.Attempt ?? 0,
            Sequence = ++_sequence,
            Text = text,
            Restart = restart,
        };
        if (result is not null) chunk.Result = result;
        return chunk;
    }
}
