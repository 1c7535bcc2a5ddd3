using System.Data.Common;

namespace AiSystem.Master.Persistence;

/// <summary>
/// The journal and snapshot tables of one database, for the plugins (<see cref="SqlJournal"/>,
/// <see cref="SqlSnapshotStore"/>): rows in, rows out; Akka's types and serialization stay in the plugins.
/// Journal rows go through the group-commit writer; reads run on pooled connections, and so do PostgreSQL's other
/// writes but its purges (SQLite's all go to the writer's connection, its one writer). Both providers share the SQL below.
/// </summary>
public abstract class JournalDatabase : IDisposable
{
    private readonly SemaphoreSlim _schemaGate = new(1, 1);
    private volatile bool _schemaReady;

    protected JournalDatabase(JournalConnection connection, JournalHealth health, int maxBatchRows)
    {
        Connection = connection;
        Health = health;
        MaxBatchRows = maxBatchRows;
    }

    public JournalConnection Connection { get; }
    public JournalHealth Health { get; }
    protected int MaxBatchRows { get; }

    public static JournalDatabase Create(JournalConnection connection, JournalHealth health, int maxBatchRows = 1000) =>
        connection.Provider == JournalProvider.Sqlite
            ? new SqliteJournalDatabase(connection, health, maxBatchRows)
            : new PostgresJournalDatabase(connection, health, maxBatchRows);

    /// <summary>Completes once the rows are committed (in one transaction with whatever else was waiting).</summary>
    public abstract Task WriteAsync(IReadOnlyList<JournalRow> rows);

    /// <summary>Runs <paramref name="read"/> on an open pooled connection, off the caller's thread.</summary>
    protected abstract Task<T> ReadAsync<T>(Func<DbConnection, Task<T>> read);

    /// <summary>Runs <paramref name="write"/> in a transaction of its own and commits.</summary>
    protected abstract Task WriteInTransactionAsync(Func<DbConnection, DbTransaction, Task> write);

    /// <summary>
    /// Runs <paramref name="write"/> in a transaction of its own on the writer thread, after every journal write handed
    /// in before it and before any handed in after it: on both providers, unlike <see cref="WriteInTransactionAsync"/>
    /// (PostgreSQL's run beside the writer, on pooled connections).
    /// </summary>
    protected abstract Task WriteInOrderAsync(Func<DbConnection, DbTransaction, Task> write);

    /// <summary>Creates the tables once per process, serialized so concurrent first users do not race.</summary>
    protected async Task EnsureSchemaAsync(DbConnection connection)
    {
        if (_schemaReady) return;
        await _schemaGate.WaitAsync();
        try
        {
            if (_schemaReady) return;
            await JournalSchema.EnsureCreatedAsync(connection, Connection.Provider);
            _schemaReady = true;
        }
        finally
        {
            _schemaGate.Release();
        }
    }

    public Task<long> HighestSequenceNrAsync(string persistenceId) => Guard(ReadAsync(async connection =>
    {
        await using var command = Command(connection, "SELECT MAX(sequence_number) FROM journal WHERE persistence_id = @pid");
        Add(command, "@pid", persistenceId);
        return await command.ExecuteScalarAsync() is long highest ? highest : 0L;
    }));

    /// <summary>Rows not deleted with from ≤ sequence number ≤ to, in order, at most <paramref name="max"/>; streamed.</summary>
    public Task ReplayAsync(string persistenceId, long fromSequenceNr, long toSequenceNr, long max, Action<JournalRow> onRow) =>
        Guard(ReadAsync(async connection =>
        {
            await using var command = Command(connection, """
                SELECT persistence_id, sequence_number, created, message, manifest, identifier, writer_uuid, deleted, ordering
                FROM journal
                WHERE persistence_id = @pid AND sequence_number >= @from AND sequence_number <= @to AND deleted = false
                ORDER BY sequence_number LIMIT @max
                """);
            Add(command, "@pid", persistenceId);
            Add(command, "@from", fromSequenceNr);
            Add(command, "@to", toSequenceNr);
            Add(command, "@max", Math.Max(0, max));
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) onRow(ReadJournalRow(reader));
            return true;
        }));

    /// <summary>
    /// Deletes rows up to <paramref name="toSequenceNr"/>, but keeps the persistence id's highest row (marked deleted)
    /// when it is among them, as Akka.Persistence.Sql does: the highest sequence number must survive the delete.
    /// </summary>
    public Task DeleteToAsync(string persistenceId, long toSequenceNr) => Guard(WriteInTransactionAsync(async (connection, transaction) =>
    {
        const string Highest = "(SELECT MAX(sequence_number) FROM journal WHERE persistence_id = @pid)";
        foreach (var sql in new[]
        {
            $"UPDATE journal SET deleted = true WHERE persistence_id = @pid AND sequence_number <= @to AND sequence_number = {Highest}",
            $"DELETE FROM journal WHERE persistence_id = @pid AND sequence_number <= @to AND sequence_number < {Highest}",
            "DELETE FROM tags WHERE persistence_id = @pid AND sequence_nr <= @to",
        })
        {
            await using var command = Command(connection, sql, transaction);
            Add(command, "@pid", persistenceId);
            Add(command, "@to", toSequenceNr);
            await command.ExecuteNonQueryAsync();
        }
    }));

    /// <summary>
    /// Deletes every row of <paramref name="persistenceId"/>: all its events, the highest one too (unlike
    /// <see cref="DeleteToAsync"/>, which keeps it as the marker of the highest sequence number), its tags and its
    /// snapshots, in one transaction, so either all of it goes or nothing does. The persistence id is then unknown to
    /// the journal: an actor that takes it up again recovers nothing and starts over at sequence number 1, and no
    /// unique key can clash with what was there.
    /// <para>
    /// It goes through the writer (<see cref="WriteInOrderAsync"/>), so it is ordered with the journal's writes: every
    /// event handed in before it is written first and deleted with the rest, and a new actor's first event, handed in
    /// after it, is written after it. What the writer cannot order (PostgreSQL saves snapshots beside it) is the
    /// caller's to settle: purge only once nothing else of that persistence id is in flight, and write nothing more
    /// under it from the same incarnation (<c>SessionActor</c> waits for its writes and snapshots, then stops).
    /// </para>
    /// </summary>
    public Task PurgeAsync(string persistenceId) => Guard(WriteInOrderAsync(async (connection, transaction) =>
    {
        foreach (var sql in new[]
        {
            "DELETE FROM journal WHERE persistence_id = @pid",
            "DELETE FROM tags WHERE persistence_id = @pid",
            "DELETE FROM snapshot WHERE persistence_id = @pid",
        })
        {
            await using var command = Command(connection, sql, transaction);
            Add(command, "@pid", persistenceId);
            await command.ExecuteNonQueryAsync();
        }
    }));

    private const string SnapshotWhere = """
        persistence_id = @pid AND sequence_number <= @maxSeq AND sequence_number >= @minSeq AND created <= @maxCreated AND created >= @minCreated
        """;

    /// <summary>The newest snapshot in the range, or null.</summary>
    public Task<SnapshotRow?> LoadSnapshotAsync(string persistenceId, SnapshotRange range) => Guard(ReadAsync(async connection =>
    {
        await using var command = Command(connection, $"""
            SELECT persistence_id, sequence_number, created, snapshot, manifest, serializer_id FROM snapshot
            WHERE {SnapshotWhere} ORDER BY sequence_number DESC LIMIT 1
            """);
        AddRange(command, persistenceId, range);
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync()) return null;
        return new SnapshotRow(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2),
            reader.IsDBNull(3) ? null : reader.GetFieldValue<byte[]>(3), reader.IsDBNull(4) ? null : reader.GetString(4),
            reader.IsDBNull(5) ? null : reader.GetInt32(5));
    }));

    /// <summary>Inserts, or replaces the snapshot of the same persistence id and sequence number.</summary>
    public Task SaveSnapshotAsync(SnapshotRow row) => Guard(WriteInTransactionAsync(async (connection, transaction) =>
    {
        await using var command = Command(connection, """
            INSERT INTO snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id)
            VALUES (@pid, @seq, @created, @snapshot, @manifest, @serializer)
            ON CONFLICT (persistence_id, sequence_number) DO UPDATE SET
                created = excluded.created, snapshot = excluded.snapshot, manifest = excluded.manifest, serializer_id = excluded.serializer_id
            """, transaction);
        Add(command, "@pid", row.PersistenceId);
        Add(command, "@seq", row.SequenceNr);
        Add(command, "@created", row.Created);
        Add(command, "@snapshot", row.Snapshot);
        Add(command, "@manifest", row.Manifest);
        Add(command, "@serializer", row.SerializerId);
        await command.ExecuteNonQueryAsync();
    }));

    public Task DeleteSnapshotAsync(string persistenceId, long sequenceNr) => Guard(WriteInTransactionAsync(async (connection, transaction) =>
    {
        await using var command = Command(connection, "DELETE FROM snapshot WHERE persistence_id = @pid AND sequence_number = @seq", transaction);
        Add(command, "@pid", persistenceId);
        Add(command, "@seq", sequenceNr);
        await command.ExecuteNonQueryAsync();
    }));

    public Task DeleteSnapshotsAsync(string persistenceId, SnapshotRange range) => Guard(WriteInTransactionAsync(async (connection, transaction) =>
    {
        await using var command = Command(connection, $"DELETE FROM snapshot WHERE {SnapshotWhere}", transaction);
        AddRange(command, persistenceId, range);
        await command.ExecuteNonQueryAsync();
    }));

    /// <summary>Columns in the order of the replay query.</summary>
    protected static JournalRow ReadJournalRow(DbDataReader reader) => new(
        reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetFieldValue<byte[]>(3),
        reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetInt32(5),
        reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetBoolean(7), reader.GetInt64(8));

    protected static DbCommand Command(DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    protected static DbParameter Add(DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
        return parameter;
    }

    private static void AddRange(DbCommand command, string persistenceId, SnapshotRange range)
    {
        Add(command, "@pid", persistenceId);
        Add(command, "@maxSeq", range.MaxSequenceNr);
        Add(command, "@minSeq", range.MinSequenceNr);
        Add(command, "@maxCreated", range.MaxCreated);
        Add(command, "@minCreated", range.MinCreated);
    }

    /// <summary>Every failure shows in <see cref="Health"/> (type and message only) and still reaches the caller.</summary>
    private async Task<T> Guard<T>(Task<T> operation)
    {
        try
        {
            return await operation;
        }
        catch (Exception error) when (error is not ObjectDisposedException) // shutting down is not a failure
        {
            Health.Failed(error, DateTimeOffset.UtcNow);
            throw;
        }
    }

    private async Task Guard(Task operation)
    {
        try
        {
            await operation;
        }
        catch (Exception error) when (error is not ObjectDisposedException)
        {
            Health.Failed(error, DateTimeOffset.UtcNow);
            throw;
        }
    }

    public abstract void Dispose();
}
