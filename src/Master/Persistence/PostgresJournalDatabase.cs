using System.Data.Common;
using Npgsql;
using NpgsqlTypes;

namespace AiSystem.Master.Persistence;

/// <summary>
/// PostgreSQL: each batch is one INSERT of arrays (unnest), so one statement, one transaction and one round trip
/// whatever the number of rows, on a connection from Npgsql's pool. The writer thread calls Npgsql synchronously
/// (it is that thread's only job); every other operation is async on pooled connections.
/// </summary>
internal sealed class PostgresJournalDatabase : JournalDatabase, IJournalWriteTarget
{
    // WITH ORDINALITY ... ORDER BY: the ordering column follows the order the rows were handed in.
    private const string InsertSql = """
        INSERT INTO journal (created, deleted, persistence_id, sequence_number, message, manifest, identifier, writer_uuid)
        SELECT r.created, false, r.pid, r.seq, r.message, r.manifest, r.identifier, r.writer
        FROM unnest(@created, @pid, @seq, @message, @manifest, @identifier, @writer)
            WITH ORDINALITY AS r(created, pid, seq, message, manifest, identifier, writer, n)
        ORDER BY r.n
        """;

    private readonly GroupCommitWriter _writer;

    public PostgresJournalDatabase(JournalConnection connection, JournalHealth health, int maxBatchRows)
        : base(connection, health, maxBatchRows) =>
        _writer = new GroupCommitWriter(this, health, maxBatchRows);

    public override Task WriteAsync(IReadOnlyList<JournalRow> rows) => _writer.WriteAsync(rows);

    protected override async Task<T> ReadAsync<T>(Func<DbConnection, Task<T>> read)
    {
        await using var connection = await Connection.OpenAsync();
        await EnsureSchemaAsync(connection);
        return await read(connection);
    }

    protected override async Task WriteInTransactionAsync(Func<DbConnection, DbTransaction, Task> write)
    {
        await using var connection = await Connection.OpenAsync();
        await EnsureSchemaAsync(connection);
        await using var transaction = await connection.BeginTransactionAsync();
        await write(connection, transaction);
        await transaction.CommitAsync();
    }

    // On the writer thread like a batch, synchronously (that thread's only job is to wait for its database).
    protected override Task WriteInOrderAsync(Func<DbConnection, DbTransaction, Task> write) => _writer.RunAsync(() =>
    {
        using var connection = Connection.Open();
        EnsureSchemaAsync(connection).GetAwaiter().GetResult();
        using var transaction = connection.BeginTransaction();
        write(connection, transaction).GetAwaiter().GetResult();
        transaction.Commit();
    });

    void IJournalWriteTarget.Insert(IReadOnlyList<JournalRow> rows)
    {
        var count = rows.Count;
        var created = new long[count];
        var pid = new string[count];
        var seq = new long[count];
        var message = new byte[count][];
        var manifest = new string?[count];
        var identifier = new int?[count];
        var writer = new string?[count];
        for (var i = 0; i < count; i++)
        {
            var row = rows[i];
            (created[i], pid[i], seq[i], message[i], manifest[i], identifier[i], writer[i]) =
                (row.Created, row.PersistenceId, row.SequenceNr, row.Message, row.Manifest, row.Identifier, row.WriterUuid);
        }

        using var connection = (NpgsqlConnection)Connection.Open();
        EnsureSchemaAsync(connection).GetAwaiter().GetResult();
        using var command = new NpgsqlCommand(InsertSql, connection);
        command.Parameters.Add(new NpgsqlParameter<long[]>("created", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = created });
        command.Parameters.Add(new NpgsqlParameter<string[]>("pid", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = pid });
        command.Parameters.Add(new NpgsqlParameter<long[]>("seq", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = seq });
        command.Parameters.Add(new NpgsqlParameter<byte[][]>("message", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { TypedValue = message });
        command.Parameters.Add(new NpgsqlParameter<string?[]>("manifest", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = manifest });
        command.Parameters.Add(new NpgsqlParameter<int?[]>("identifier", NpgsqlDbType.Array | NpgsqlDbType.Integer) { TypedValue = identifier });
        command.Parameters.Add(new NpgsqlParameter<string?[]>("writer", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = writer });
        command.Prepare(); // once per physical connection: Npgsql keeps it across pool rentals
        command.ExecuteNonQuery();
    }

    public bool IsUniqueViolation(Exception error) => error is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    public override void Dispose() => _writer.Dispose();
}
