using System.Text;
using AiSystem.Master.Hubs;

namespace AiSystem.Master.Sessions;

/// <summary>
/// The answers of a session's in-flight tasks as streamed so far, in memory only (a restarted session simply has
/// none until the next chunk): enough for a reloaded page to show what was already written.
/// </summary>
public sealed class StreamingAnswers
{
    /// <summary>An answer longer than this stops growing here (the final answer still arrives whole).</summary>
    public const int MaxChars = 256 * 1024;

    private readonly Dictionary<string, (int Attempt, StringBuilder Text)> _answers = new(StringComparer.Ordinal);

    /// <summary>A (new) attempt was assigned: text of older attempts is gone. True when something was reset.</summary>
    public bool Assigned(string taskId, int attempt)
    {
        if (!_answers.TryGetValue(taskId, out var a) || a.Attempt >= attempt) return false;
        _answers.Remove(taskId);
        return true;
    }

    /// <summary>Applies streamed text; returns the chunk for the browsers, or null when it is stale or does not fit.</summary>
    public AiResponseChunkDto? Apply(string taskId, int attempt, int offset, string text)
    {
        if (_answers.TryGetValue(taskId, out var a))
        {
            if (attempt < a.Attempt) return null; // an older attempt's late text
            if (attempt > a.Attempt) _answers[taskId] = a = (attempt, new StringBuilder());
        }
        else
        {
            _answers[taskId] = a = (attempt, new StringBuilder());
        }
        if (offset < 0 || offset > a.Text.Length) return null; // a gap: never produced by the dispatcher, refuse it
        if (offset + text.Length > MaxChars) return null;
        a.Text.Length = offset;
        a.Text.Append(text);
        return new AiResponseChunkDto(taskId, attempt, offset, text);
    }

    public string? Partial(string taskId) => _answers.TryGetValue(taskId, out var a) && a.Text.Length > 0 ? a.Text.ToString() : null;

    /// <summary>The attempt whose text is held for this task (0: none).</summary>
    public int AttemptOf(string taskId) => _answers.TryGetValue(taskId, out var a) ? a.Attempt : 0;

    /// <summary>The task has its outcome: the streamed text is no longer needed.</summary>
    public void Finished(string taskId) => _answers.Remove(taskId);

    public int Count => _answers.Count;

    /// <summary>A session's questions as the browser sees them, with the streamed-so-far text of open ones (as <c>partial</c>).</summary>
    public List<HistoryItemDto> History(IEnumerable<QuestionRecord> questions) =>
        questions.Select(q => new HistoryItemDto(q.TaskId, q.Query, q.Answer, q.Error, q.WorkerId, q.ProcessingTimeMs, q.Provider,
            q.AskedAt, q.Retryable, q.IsOpen ? Partial(q.TaskId) : null, q.Cancelled, q.Replaces, q.Model, q.PromptTokens,
            q.OutputTokens)).ToList();
}
