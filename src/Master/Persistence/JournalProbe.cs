namespace AiSystem.Master.Persistence;

/// <summary>
/// Tries a failing journal's database (2 s at most; <see cref="JournalIndex.ProbeAsync"/>: one small real write, which
/// needs the write lock and free space): a database that passes makes the journal worth
/// trying again. Readiness, <c>GET /api/journal</c> and the dashboard ask through it, so an idle master whose database
/// came back does not stay "failing" until its next write. A journal that works is not probed at all.
/// </summary>
public sealed class JournalProbe(JournalConnection connection, JournalHealth health, JournalIndex index)
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public enum Outcome
    {
        /// <summary>Nothing has failed since the last thing that worked: no probe.</summary>
        Works,
        /// <summary>It had failed, and its database answered the probe now.</summary>
        AnswersAgain,
        /// <summary>It had failed, and its database does not answer.</summary>
        DoesNotAnswer,
    }

    public async Task<Outcome> ProbeIfFailingAsync(CancellationToken cancellationToken = default)
    {
        if (!health.LastAttemptFailed) return Outcome.Works;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            await index.ProbeAsync(timeout.Token);
            health.ProbeSucceeded(DateTimeOffset.UtcNow);
            return Outcome.AnswersAgain;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return Outcome.DoesNotAnswer;
        }
    }

    /// <summary>The journal's status, after probing its database if it is failing.</summary>
    public async Task<JournalStatus> StatusAsync(CancellationToken cancellationToken = default)
    {
        await ProbeIfFailingAsync(cancellationToken);
        return JournalStatus.Of(connection, health, DateTimeOffset.UtcNow);
    }
}
