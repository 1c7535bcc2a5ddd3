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

    /// <summary>
    /// Whether the database takes a write again: one small row (16 KB) replaced in a table of its own, <c>aisystem_probe</c>.
    /// Only a real write tells a failing journal from a working one: a SQLite file locked by another process still
    /// answers reads (the write waits at most 1 s for the lock here), and a full disk answers reads and even an empty
    /// transaction. Called only while the journal is failing.
    /// </summary>
    public Task<bool> ProbeAsync(CancellationToken cancellationToken = default) => RunAsync(async db =>
    {
        await using var command = db.CreateCommand();
        var sqlite = connection.Provider == JournalProvider.Sqlite;
        if (sqlite)
        {
            command.CommandText = "PRAGMA busy_timeout = 1000";
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        try
        {
            command.CommandTimeout = 2; // the driver's own retries of a busy statement, too
            command.CommandText = $"CREATE TABLE IF NOT EXISTS {ProbeTable} (id INTEGER NOT NULL PRIMARY KEY, at BIGINT NOT NULL, pad TEXT NOT NULL)";
            await command.ExecuteNonQueryAsync(cancellationToken);
            command.CommandText = $"INSERT INTO {ProbeTable} (id, at, pad) VALUES (1, @at, @pad) ON CONFLICT (id) DO UPDATE SET at = excluded.at, pad = excluded.pad";
            var at = command.CreateParameter();
            (at.ParameterName, at.Value) = ("@at", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            var pad = command.CreateParameter();
            (pad.ParameterName, pad.Value) = ("@pad", new string('p', 16 * 1024));
            command.Parameters.Add(at);
            command.Parameters.Add(pad);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        finally
        {
            if (sqlite)
            {
                command.Parameters.Clear();
                command.CommandText = $"PRAGMA busy_timeout = {JournalConnection.SqliteBusyTimeoutMs}"; // a pooled connection keeps it
                await command.ExecuteNonQueryAsync(CancellationToken.None);
            }
        }
        return true;
    }, cancellationToken);

    public const string ProbeTable = "aisystem_probe";

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
