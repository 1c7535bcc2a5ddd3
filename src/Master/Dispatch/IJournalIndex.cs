namespace AiSystem.Master.Dispatch;

/// <summary>
/// What the dispatcher reads of the journal outside Akka.Persistence: its current position, and which sessions wrote
/// after a position (so that after a restart it knows whom to ask for open questions).
/// </summary>
public interface IJournalIndex
{
    /// <summary>The journal's highest ordering (0 when it is empty).</summary>
    Task<long> HighestOrderingAsync(CancellationToken cancellationToken = default);

    /// <summary>Distinct persistence ids starting with <paramref name="prefix"/> of rows with an ordering above <paramref name="ordering"/>.</summary>
    Task<IReadOnlyList<string>> PersistenceIdsWrittenAfterAsync(long ordering, string prefix, int limit, CancellationToken cancellationToken = default);
}
