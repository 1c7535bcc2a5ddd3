using System.Data.Common;

namespace AiSystem.Master.Persistence;

/// <summary>
/// The tables Akka.Persistence.Sql 1.5.73 creates (same names, columns, types, keys and indexes), so a database written
/// by the previous version opens unchanged. Created with IF NOT EXISTS on first use.
/// </summary>
public static class JournalSchema
{
    /// <summary>
    /// Akka.Persistence.Sql's two journal indexes that no query of ours reads (every read and delete goes by
    /// <c>journal_uq</c>, the index scan by <c>ordering</c>): each cost a page write on every event, a third of an
    /// event's pages. New journals never get them; older ones lose them at start. Only their speed goes: a journal
    /// without them is read the same by this version and by Akka.Persistence.Sql.
    /// </summary>
    private static readonly string[] UnusedIndexes =
    [
        "DROP INDEX IF EXISTS journal_created_idx",
        "DROP INDEX IF EXISTS journal_sequence_number_idx",
    ];

    public static readonly IReadOnlyList<string> Sqlite =
    [
        """
        CREATE TABLE IF NOT EXISTS [journal] (
            [ordering]        INTEGER       NOT NULL PRIMARY KEY AUTOINCREMENT,
            [created]         INTEGER       NOT NULL,
            [deleted]         Bit           NOT NULL,
            [persistence_id]  NVarChar(255) NOT NULL,
            [sequence_number] INTEGER       NOT NULL,
            [message]         VarBinary     NOT NULL,
            [manifest]        NVarChar(500)     NULL,
            [identifier]      INTEGER           NULL,
            [writer_uuid]     NVarChar(128)     NULL)
        """,
        "CREATE UNIQUE INDEX IF NOT EXISTS journal_uq ON journal (persistence_id, sequence_number)",
        .. UnusedIndexes,
        """
        CREATE TABLE IF NOT EXISTS [snapshot] (
            [persistence_id]  NVarChar(255) NOT NULL,
            [sequence_number] INTEGER       NOT NULL,
            [created]         INTEGER       NOT NULL,
            [snapshot]        VarBinary         NULL,
            [manifest]        NVarChar(500)     NULL,
            [serializer_id]   INTEGER           NULL,
            CONSTRAINT [PK_snapshot] PRIMARY KEY ([persistence_id], [sequence_number]))
        """,
        "CREATE INDEX IF NOT EXISTS snapshot_sequence_number_idx ON snapshot (sequence_number)",
        "CREATE INDEX IF NOT EXISTS snapshot_created_idx ON snapshot (created)",
        """
        CREATE TABLE IF NOT EXISTS [tags] (
            [ordering_id]    INTEGER       NOT NULL,
            [tag]            NVarChar(64)  NOT NULL,
            [sequence_nr]    INTEGER       NOT NULL,
            [persistence_id] NVarChar(255) NOT NULL,
            CONSTRAINT [PK_tags] PRIMARY KEY ([ordering_id], [tag]))
        """,
        "CREATE INDEX IF NOT EXISTS tags_persistence_id_sequence_nr_idx ON tags (persistence_id, sequence_nr)",
        "CREATE INDEX IF NOT EXISTS tags_tag_idx ON tags (tag)",
    ];

    public static readonly IReadOnlyList<string> PostgreSql =
    [
        """
        CREATE TABLE IF NOT EXISTS journal (
            ordering        bigint  GENERATED ALWAYS AS IDENTITY,
            created         bigint  NOT NULL,
            deleted         boolean NOT NULL,
            persistence_id  text    NOT NULL,
            sequence_number bigint  NOT NULL,
            message         bytea   NOT NULL,
            manifest        text,
            identifier      integer,
            writer_uuid     text,
            CONSTRAINT "PK_journal" PRIMARY KEY (ordering),
            CONSTRAINT journal_uq UNIQUE (persistence_id, sequence_number))
        """,
        .. UnusedIndexes,
        """
        CREATE TABLE IF NOT EXISTS snapshot (
            persistence_id  text   NOT NULL,
            sequence_number bigint NOT NULL,
            created         bigint NOT NULL,
            snapshot        bytea,
            manifest        text,
            serializer_id   integer,
            CONSTRAINT "PK_snapshot" PRIMARY KEY (persistence_id, sequence_number))
        """,
        "CREATE INDEX IF NOT EXISTS snapshot_sequence_number_idx ON snapshot (sequence_number)",
        "CREATE INDEX IF NOT EXISTS snapshot_created_idx ON snapshot (created)",
        """
        CREATE TABLE IF NOT EXISTS tags (
            ordering_id    bigint NOT NULL,
            tag            text   NOT NULL,
            sequence_nr    bigint NOT NULL,
            persistence_id text   NOT NULL,
            CONSTRAINT "PK_tags" PRIMARY KEY (ordering_id, tag))
        """,
        "CREATE INDEX IF NOT EXISTS tags_persistence_id_sequence_nr_idx ON tags (persistence_id, sequence_nr)",
        "CREATE INDEX IF NOT EXISTS tags_tag_idx ON tags (tag)",
    ];

    private const long SchemaLockKey = 0x41_69_4A_6F_75_72; // "AiJour"

    public static IReadOnlyList<string> For(JournalProvider provider) => provider == JournalProvider.Sqlite ? Sqlite : PostgreSql;

    /// <summary>
    /// Creates what is missing. SQLite also switches the file to write-ahead logging: a commit appends to the log
    /// instead of rewriting pages (about a third of the time per commit here), and readers never block the writer.
    /// The mode is stored in the file, so once is enough.
    /// </summary>
    public static async Task EnsureCreatedAsync(DbConnection connection, JournalProvider provider, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        if (provider == JournalProvider.Sqlite)
        {
            command.CommandText = "PRAGMA journal_mode = WAL;";
            await command.ExecuteNonQueryAsync(cancellationToken);
            foreach (var statement in Sqlite)
            {
                command.CommandText = statement;
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            return;
        }
        // Several masters may start at once: one transaction, under a lock of its own, creates what is missing.
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        command.Transaction = transaction;
        command.CommandText = $"SELECT pg_advisory_xact_lock({SchemaLockKey})";
        await command.ExecuteNonQueryAsync(cancellationToken);
        foreach (var statement in PostgreSql)
        {
            command.CommandText = statement;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }
}
