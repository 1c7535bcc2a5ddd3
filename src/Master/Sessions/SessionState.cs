namespace AiSystem.Master.Sessions;

/// <summary>
/// One session's questions and their outcomes, in the order they were asked, at most <c>maxQuestions</c> of them
/// (the oldest finished ones go first; open ones are always kept). The decisions return the event to journal (or
/// null when nothing changes); <see cref="Apply"/> is the only code that changes the state, live and in recovery.
/// </summary>
public sealed class SessionState(int maxQuestions = int.MaxValue)
{
    private readonly List<QuestionRecord> _questions = [];
    private readonly Dictionary<string, QuestionRecord> _byTask = new(StringComparer.Ordinal);

    public IReadOnlyList<QuestionRecord> Questions => _questions;
    public int OpenCount { get; private set; }
    public IEnumerable<QuestionRecord> Open => _questions.Where(q => q.IsOpen);

    public QuestionRecord? Find(string taskId) => _byTask.GetValueOrDefault(taskId);

    /// <summary>A new question, or null when this task id is already a question of this session.</summary>
    public QuestionAsked? Ask(string taskId, string query, long askedAt, string? replaces = null, string? model = null) =>
        _byTask.ContainsKey(taskId) ? null : new QuestionAsked(taskId, query, askedAt, replaces, model);

    /// <summary>The conversation's last turn (the newest question not replaced by another), or null when there is none.</summary>
    public QuestionRecord? LastTurn
    {
        get
        {
            for (var i = _questions.Count - 1; i >= 0; i--)
                if (_questions[i].ReplacedBy is null) return _questions[i];
            return null;
        }
    }

    /// <summary>
    /// Why a question may not take the place of <paramref name="replaces"/> (regenerate, edit), or null when it may:
    /// only the conversation's last turn, once it has ended, is replaced.
    /// </summary>
    public string? ReplaceRefusal(string replaces)
    {
        if (Find(replaces) is not { } old) return "The question to replace is not in this conversation (any more).";
        if (!ReferenceEquals(LastTurn, old)) return "Only the last question of the conversation can be asked again or edited.";
        if (old.IsOpen) return "That question is still being answered: stop it first, then ask again.";
        return null;
    }

    /// <summary>
    /// The conversation a question takes to the model: the answered turns before <paramref name="before"/> (a task id;
    /// null: the whole conversation), oldest first, as user and model turns. Failed, stopped and replaced turns and
    /// questions still open are left out. At most <paramref name="maxExchanges"/> question-and-answer pairs and
    /// <paramref name="budgetChars"/> characters: the newest that fit, the oldest dropped first.
    /// </summary>
    public IReadOnlyList<Messages.ChatTurn> Context(string? before, int budgetChars, int maxExchanges)
    {
        if (maxExchanges <= 0 || budgetChars <= 0) return [];
        var end = before is null ? _questions.Count : _questions.FindLastIndex(q => q.TaskId == before);
        if (end < 0) end = _questions.Count;
        var picked = new List<QuestionRecord>();
        var used = 0;
        for (var i = end - 1; i >= 0 && picked.Count < maxExchanges; i--)
        {
            var q = _questions[i];
            if (!q.IsContext) continue;
            var size = q.Query.Length + q.Answer!.Length;
            if (used + size > budgetChars) break; // older turns would leave a gap: the conversation is cut here
            used += size;
            picked.Add(q);
        }
        var turns = new List<Messages.ChatTurn>(picked.Count * 2);
        for (var i = picked.Count - 1; i >= 0; i--)
        {
            turns.Add(new Messages.ChatTurn(Messages.ChatTurn.User, picked[i].Query));
            turns.Add(new Messages.ChatTurn(Messages.ChatTurn.Model, picked[i].Answer!));
        }
        return turns;
    }

    /// <summary>The event that stops an open question, keeping <paramref name="text"/> (what streamed) as its answer; null when it is not open.</summary>
    public QuestionCancelled? Cancel(string taskId, string text, long at) =>
        Find(taskId) is { IsOpen: true } ? new QuestionCancelled(taskId, text, at) : null;

    /// <summary>
    /// The event that records this outcome, or null when there is nothing to record: the question is not one of ours
    /// (it was never stored), or it has its outcome already (exactly one answer per question).
    /// </summary>
    public ISessionEvent? Record(TaskOutcome o) => Find(o.TaskId) is { IsOpen: true } ? EventFor(o) : null;

    /// <summary>The event recording <paramref name="o"/>, for a question known to be open (stored, or being stored now).</summary>
    public static ISessionEvent EventFor(TaskOutcome o) => o.Error is null
        ? new QuestionAnswered(o.TaskId, o.Answer ?? "", o.WorkerId, o.Provider, o.ProcessingTimeMs, o.FinishedAt, o.PromptTokens, o.OutputTokens)
        : new QuestionFailed(o.TaskId, o.Error, o.Retryable, string.IsNullOrEmpty(o.WorkerId) ? null : o.WorkerId, o.FinishedAt);

    public void Apply(ISessionEvent e)
    {
        switch (e)
        {
            case QuestionAsked a when !_byTask.ContainsKey(a.TaskId):
                if (a.Replaces is { } replaced && Find(replaced) is { ReplacedBy: null } old) Replace(old, old with { ReplacedBy = a.TaskId });
                Add(new QuestionRecord(a.TaskId, a.Query, a.AskedAt, Replaces: a.Replaces, Model: a.Model));
                Trim();
                break;
            case QuestionAnswered a when Find(a.TaskId) is { IsOpen: true } q:
                Replace(q, q with
                {
                    Answer = a.Answer, WorkerId = NullIfEmpty(a.WorkerId), Provider = NullIfEmpty(a.Provider),
                    ProcessingTimeMs = a.ProcessingTimeMs, FinishedAt = a.AnsweredAt, PromptTokens = a.PromptTokens,
                    OutputTokens = a.OutputTokens,
                });
                Trim();
                break;
            case QuestionCancelled c when Find(c.TaskId) is { IsOpen: true } q:
                Replace(q, q with { Answer = c.Text, Cancelled = true, FinishedAt = c.CancelledAt });
                Trim();
                break;
            case QuestionFailed f when Find(f.TaskId) is { IsOpen: true } q:
                Replace(q, q with { Error = f.Error, Retryable = f.Retryable, WorkerId = f.WorkerId, FinishedAt = f.FailedAt });
                Trim();
                break;
            case Serialization.LegacyOutcomeRecorded { Record: var r }:
                // Version 0.1.0's outcome: it may come before its question, so it brings the question along.
                if (Find(r.TaskId) is { IsOpen: true } open) Replace(open, r with { Query = open.Query, AskedAt = open.AskedAt });
                else if (Find(r.TaskId) is null) Add(r);
                Trim();
                break;
        }
    }

    public SessionSnapshot ToSnapshot() => new([.. _questions]);

    public void Restore(SessionSnapshot snapshot)
    {
        _questions.Clear();
        _byTask.Clear();
        OpenCount = 0;
        foreach (var q in snapshot.Questions) Add(q);
        Trim();
    }

    private void Add(QuestionRecord q)
    {
        _questions.Add(q);
        _byTask[q.TaskId] = q;
        if (q.IsOpen) OpenCount++;
    }

    private void Replace(QuestionRecord old, QuestionRecord updated)
    {
        // Outcomes arrive for recent questions: search from the end.
        var at = _questions.FindLastIndex(q => ReferenceEquals(q, old));
        _questions[at] = updated;
        _byTask[updated.TaskId] = updated;
        if (old.IsOpen && !updated.IsOpen) OpenCount--;
    }

    private void Trim()
    {
        while (_questions.Count > maxQuestions && _questions.FindIndex(q => !q.IsOpen) is var at and >= 0)
        {
            _byTask.Remove(_questions[at].TaskId);
            _questions.RemoveAt(at);
        }
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
