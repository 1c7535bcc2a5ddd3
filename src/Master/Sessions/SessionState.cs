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
    public QuestionAsked? Ask(string taskId, string query, long askedAt) =>
        _byTask.ContainsKey(taskId) ? null : new QuestionAsked(taskId, query, askedAt);

    /// <summary>
    /// The event that records this outcome, or null when there is nothing to record: the question is not one of ours
    /// (it was never stored), or it has its outcome already (exactly one answer per question).
    /// </summary>
    public ISessionEvent? Record(TaskOutcome o) => Find(o.TaskId) is { IsOpen: true } ? EventFor(o) : null;

    /// <summary>The event recording <paramref name="o"/>, for a question known to be open (stored, or being stored now).</summary>
    public static ISessionEvent EventFor(TaskOutcome o) => o.Error is null
        ? new QuestionAnswered(o.TaskId, o.Answer ?? "", o.WorkerId, o.Provider, o.ProcessingTimeMs, o.FinishedAt)
        : new QuestionFailed(o.TaskId, o.Error, o.Retryable, string.IsNullOrEmpty(o.WorkerId) ? null : o.WorkerId, o.FinishedAt);

    public void Apply(ISessionEvent e)
    {
        switch (e)
        {
            case QuestionAsked a when !_byTask.ContainsKey(a.TaskId):
                Add(new QuestionRecord(a.TaskId, a.Query, a.AskedAt));
                Trim();
                break;
            case QuestionAnswered a when Find(a.TaskId) is { IsOpen: true } q:
                Replace(q, q with
                {
                    Answer = a.Answer, WorkerId = NullIfEmpty(a.WorkerId), Provider = NullIfEmpty(a.Provider),
                    ProcessingTimeMs = a.ProcessingTimeMs, FinishedAt = a.AnsweredAt,
                });
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
