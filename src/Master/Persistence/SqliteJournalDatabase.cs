using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace AiSystem.Master.Persistence;

/// <summary>
/// SQLite: one long-lived write connection, owned by the writer thread, with the insert prepared once and re-bound
/// per row; every other write (deletes, snapshots) runs on that thread too, so there is never a second writer to wait
/// for. Reads use pooled connections beside it (write-ahead logging lets readers run while the writer writes).
/// </summary>
internal sealed class SqliteJournalDatabase : JournalDatabase, IJournalWriteTarget
{
    private const string InsertSql = """
        INSERT INTO journal (created, deleted, persistence_id, sequence_number, message, manifest, identifier, writer_uuid)
        VALUES (@created, false, @pid, @seq, @message, @manifest, @identifier, @writer)
        """;

    private readonly GroupCommitWriter _writer;
    // Writer thread only.
    private SqliteConnection? _connection;
    private SqliteCommand? _insert;
    private SqliteParameter _created = null!, _pid = null!, _seq = null!, _message = null!, _manifest = null!, _identifier = null!, _writerUuid = null!;

    public SqliteJournalDatabase(JournalConnection connection, JournalHealth health, int maxBatchRows)
        : base(connection, health, maxBatchRows) =>
        _writer = new GroupCommitWriter(this, health, maxBatchRows, runOn: WriterThread.Pool);

    public override Task WriteAsync(IReadOnlyList<JournalRow> rows) => _writer.WriteAsync(rows);

    // Microsoft.Data.Sqlite's async methods run synchronously: keep them off the caller's (an actor's) thread.
    protected override Task<T> ReadAsync<T>(Func<DbConnection, Task<T>> read) => Task.Run(async () =>
    {
        await using var connection = await Connection.OpenAsync();
        await EnsureSchemaAsync(connection);
        return await read(connection);
    });

    protected override Task WriteInTransactionAsync(Func<DbConnection, DbTransaction, Task> write) => _writer.RunAsync(() =>
    {
        var connection = WriteConnection();
        try
        {
            using var transaction = connection.BeginTransaction();
            // Synchronous underneath: on this dedicated thread, waiting costs nothing.
            write(connection, transaction).GetAwaiter().GetResult();
            transaction.Commit();
        }
        catch
        {
            DropWriteConnection();
            throw;
        }
    });

    // Every SQLite write already runs on the writer thread, in order.
    protected override Task WriteInOrderAsync(Func<DbConnection, DbTransaction, Task> write) => WriteInTransactionAsync(write);

    void IJournalWriteTarget.Insert(IReadOnlyList<JournalRow> rows)
    {
        var connection = WriteConnection();
        try
        {
            using var transaction = connection.BeginTransaction(); // BEGIN IMMEDIATE: takes the write lock at once
            _insert!.Transaction = transaction;
            foreach (var row in rows)
            {
                _created.Value = row.Created;
                _pid.Value = row.PersistenceId;
                _seq.Value = row.SequenceNr;
                _message.Value = row.Message;
                _manifest.Value = (object?)row.Manifest ?? DBNull.Value;
                _identifier.Value = (object?)row.Identifier ?? DBNull.Value;
                _writerUuid.Value = (object?)row.WriterUuid ?? DBNull.Value;
                _insert.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        catch (Exception error) when (!IsUniqueViolation(error))
        {
            // Whatever broke (file gone, disk full, lock timeout), start the next batch on a fresh connection.
            DropWriteConnection();
            throw;
        }
    }

    public bool IsUniqueViolation(Exception error) =>
        error is SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 2067 or 1555 }; // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY

    /// <summary>
    /// Opened on first use and after a failure. <c>synchronous=NORMAL</c> with write-ahead logging syncs at checkpoints,
    /// not at every commit: a commit survives the process being killed; the last ones may not survive a power loss.
    /// </summary>
    private SqliteConnection WriteConnection()
    {
        if (_connection is not null) return _connection;
        var connection = (SqliteConnection)Connection.Open();
        try
        {
            EnsureSchemaAsync(connection).GetAwaiter().GetResult();
            using (var pragma = connection.CreateCommand())
            {
                pragma.CommandText = "PRAGMA synchronous = NORMAL;";
                pragma.ExecuteNonQuery();
            }
            var insert = connection.CreateCommand();
            insert.CommandText = InsertSql;
            _created = insert.Parameters.Add("@created", SqliteType.Integer);
            _pid = insert.Parameters.Add("@pid", SqliteType.Text);
            _seq = insert.Parameters.Add("@seq", SqliteType.Integer);
            _message = insert.Parameters.Add("@message", SqliteType.Blob);
            _manifest = insert.Parameters.Add("@manifest", SqliteType.Text);
            _identifier = insert.Parameters.Add("@identifier", SqliteType.Integer);
            _writerUuid = insert.Parameters.Add("@writer", SqliteType.Text);
            insert.Prepare();
            _insert = insert;
            _connection = connection;
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private void DropWriteConnection()
    {
        _insert?.Dispose();
        _insert = null;
        _connection?.Dispose();
        _connection = null;
    }

    public override void Dispose()
    {
        _writer.Dispose(); // drains first; the connection belongs to its thread until then
        DropWriteConnection();
    }
}
