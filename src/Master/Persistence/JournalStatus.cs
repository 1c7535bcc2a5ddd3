namespace AiSystem.Master.Persistence;

/// <summary>
/// The journal of this master as operators see it (<c>GET /api/journal</c>, the dashboard's Journal panel,
/// <c>aictl journal</c>). Safe to show: <paramref name="Location"/> names no user or password, and
/// <paramref name="LastError"/> is already cleaned by <see cref="JournalErrorText"/>.
/// </summary>
/// <param name="Provider"><c>sqlite</c> or <c>postgresql</c>.</param>
/// <param name="Location">SQLite's file name, or PostgreSQL's <c>host/database</c>.</param>
/// <param name="State">One of <see cref="JournalState"/>'s names.</param>
/// <param name="LastSuccessfulWrite">When a write batch last committed; null before the first.</param>
/// <param name="ConsecutiveFailedBatches">Write batches that failed since the last one that committed.</param>
/// <param name="RowsWaiting">Rows handed to the writer and not yet committed or failed.</param>
public sealed record JournalStatus(string Provider, string Location, string State, DateTimeOffset? LastSuccessfulWrite,
    int ConsecutiveFailedBatches, int RowsWaiting, long RowsWritten, long BatchesWritten, long SnapshotsWritten,
    JournalHealth.Error? LastError)
{
    public static JournalStatus Of(JournalConnection connection, JournalHealth health, DateTimeOffset now) =>
        new(connection.ProviderName, connection.Location, JournalState.Of(health, now), health.LastSuccessfulWrite,
            health.ConsecutiveFailedBatches, health.QueuedRows, health.CommittedRows, health.CommittedBatches, health.SnapshotsSaved,
            health.LastError);
}

/// <summary>
/// The journal's state in one word, from <see cref="JournalHealth"/>:
/// <list type="number">
/// <item><c>failing</c>: the last thing it tried (a write batch, a read, a snapshot) failed and nothing has worked since
/// (<see cref="JournalHealth.LastAttemptFailed"/>: what readiness reports; a write conflict is no failure).</item>
/// <item><c>recovering</c>: it works again, but its last write batch failed (only a read or a probe has worked since),
/// or its last failure is less than <see cref="RecoveringFor"/> old.</item>
/// <item><c>ok</c>: anything else, a journal that has written nothing yet included.</item>
/// </list>
/// </summary>
public static class JournalState
{
    public const string Ok = "ok";
    public const string Failing = "failing";
    public const string Recovering = "recovering";

    /// <summary>How long a journal that worked again is still shown as recovering: a flapping database stays visible.</summary>
    public static readonly TimeSpan RecoveringFor = TimeSpan.FromSeconds(30);

    public static string Of(JournalHealth health, DateTimeOffset now)
    {
        if (health.LastAttemptFailed) return Failing;
        if (health.ConsecutiveFailedBatches > 0) return Recovering;
        return health.LastOutage is { } outage && now - outage < RecoveringFor ? Recovering : Ok;
    }
}
