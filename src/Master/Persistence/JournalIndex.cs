using System.Data.Common;

namespace AiSystem.Master.Persistence;

/// <summary>
/// What the journal holds, for the dispatcher's recovery and anything else outside actors: plain queries on the
/// plugins' database (own pooled connections; SQLite's run off the caller's thread, since they block).
/// </summary>
public sealed class JournalIndex(JournalConnection connection) : Dispatch.IJournalIndex
{
    private volatile bool _schemaReady;

    /// <summary>The newest row's ordering (0 when the journal is empty).</summary>
    public Task<long> HighestOrderingAsync(CancellationToken cancellationToken = default) => RunAsync(async db =>
    {
        await using var command = db.CreateCommand();
        command.CommandText = "SELECT MAX(ordering) FROM journal";
        return await command.ExecuteScalarAsync(cancellationToken) is long highest ? highest : 0L;
    }, cancellationToken);

    /// <summary>Distinct persistence ids starting with <paramref name="prefix"/> that have rows after <paramref name="ordering"/>.</summary>
    public Task<IReadOnlyList<string>> PersistenceIdsWrittenAfterAsync(long ordering, string prefix, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        return RunAsync<IReadOnlyList<string>>(async db =>
        {
            await using var command = db.CreateCommand();
            // substr, not LIKE: LIKE is case-insensitive in SQLite and treats _ and % as wildcards.
            command.CommandText = """
                SELECT DISTINCT persistence_id FROM journal
                WHERE ordering > @ordering AND substr(persistence_id, 1, length(@prefix)) = @prefix
                ORDER BY persistence_id LIMIT @limit
                """;
            Add(command, "@ordering", ordering);
            Add(command, "@prefix", prefix);
            Add(command, "@limit", (long)limit);
            var ids = new List<string>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) ids.Add(reader.GetString(0));
            return ids;
        }, cancellationToken);
    }

    /// <summary>Whether the database answers at all (a <c>SELECT 1</c> on a fresh connection from the pool).</summary>
    public Task<bool> ProbeAsync(CancellationToken cancellationToken = default) => RunAsync(async db =>
    {
        await using var command = db.CreateCommand();
        if (connection.Provider != JournalProvider.Sqlite)
        {
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(cancellationToken);
            return true;
        }
        // A SQLite file locked by another process still answers reads: ask for the write lock itself, for a moment.
        command.CommandText = "PRAGMA busy_timeout = 1000";
        await command.ExecuteNonQueryAsync(cancellationToken);
        try
        {
            command.CommandText = "BEGIN IMMEDIATE";
            command.CommandTimeout = 1; // the driver's own retries of a busy statement, too
            await command.ExecuteNonQueryAsync(cancellationToken);
            command.CommandText = "ROLLBACK";
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        finally
        {
            command.CommandText = $"PRAGMA busy_timeout = {JournalConnection.SqliteBusyTimeoutMs}"; // a pooled connection keeps it
            await command.ExecuteNonQueryAsync(CancellationToken.None);
        }
        return true;
    }, cancellationToken);

    private Task<T> RunAsync<T>(Func<DbConnection, Task<T>> query, CancellationToken cancellationToken)
    {
        async Task<T> Run()
        {
            await using var db = await connection.OpenAsync(cancellationToken);
            if (!_schemaReady)
            {
                await JournalSchema.EnsureCreatedAsync(db, connection.Provider, cancellationToken);
                _schemaReady = true;
            }
            return await query(db);
        }
        return connection.Provider == JournalProvider.Sqlite ? Task.Run(Run, cancellationToken) : Run();
    }

    private static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}
