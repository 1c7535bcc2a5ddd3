using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace AiSystem.Master.Persistence;

public enum JournalProvider
{
    Sqlite,
    PostgreSql,
}

/// <summary>
/// Where the journal lives. <see cref="ToString"/> names only the provider: the connection string may hold a password.
/// </summary>
public sealed record JournalConnection(JournalProvider Provider, string ConnectionString)
{
    /// <summary>How long a SQLite connection waits inside SQLite for the write lock (no 150 ms sleeps in the driver).</summary>
    public const int SqliteBusyTimeoutMs = 10_000;

    /// <summary>
    /// The journal writer's wait for the write lock. This master is the file's only writer (every write runs on the
    /// writer thread): the lock is taken only by another process (a sqlite3 shell, a backup tool), and a file locked
    /// longer than this is an outage, to be refused with a message, not a wait for every question.
    /// </summary>
    public const int SqliteWriterBusyTimeoutMs = 2_000;

    /// <summary>A pooled connection, open and set up (SQLite: wait for the lock inside SQLite).</summary>
    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        DbConnection connection = Provider == JournalProvider.Sqlite ? new SqliteConnection(ConnectionString) : new NpgsqlConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            if (Provider == JournalProvider.Sqlite)
            {
                // Per connection (pooled ones keep it): a reader or writer waits for a lock instead of failing.
                await using var pragma = connection.CreateCommand();
                pragma.CommandText = $"PRAGMA busy_timeout = {SqliteBusyTimeoutMs};";
                await pragma.ExecuteNonQueryAsync(cancellationToken);
            }
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The same, synchronously: for the journal's writer thread, whose only job is to wait for its database.</summary>
    public DbConnection Open()
    {
        DbConnection connection = Provider == JournalProvider.Sqlite ? new SqliteConnection(ConnectionString) : new NpgsqlConnection(ConnectionString);
        try
        {
            connection.Open();
            if (Provider == JournalProvider.Sqlite)
            {
                // Both waits: SQLite's own, and Microsoft.Data.Sqlite's retries of a busy statement (30 s by default).
                ((SqliteConnection)connection).DefaultTimeout = SqliteWriterBusyTimeoutMs / 1000;
                using var pragma = connection.CreateCommand();
                pragma.CommandText = $"PRAGMA busy_timeout = {SqliteWriterBusyTimeoutMs};";
                pragma.ExecuteNonQuery();
            }
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary><c>sqlite</c> or <c>postgresql</c>, as <c>Persistence__Provider</c> spells it.</summary>
    public string ProviderName => Provider == JournalProvider.Sqlite ? "sqlite" : "postgresql";

    /// <summary>
    /// Where the journal lives, safe to show anyone: SQLite's file name (no folder), PostgreSQL's <c>host/database</c>.
    /// Never a user, a password or the connection string.
    /// </summary>
    public string Location
    {
        get
        {
            try
            {
                if (Provider == JournalProvider.Sqlite)
                {
                    var source = new SqliteConnectionStringBuilder(ConnectionString).DataSource;
                    if (source.StartsWith("file:", StringComparison.OrdinalIgnoreCase)) source = source[5..].Split('?', 2)[0];
                    return source.StartsWith(':') ? source : Path.GetFileName(source);
                }
                var postgres = new NpgsqlConnectionStringBuilder(ConnectionString);
                return string.IsNullOrEmpty(postgres.Database) ? postgres.Host ?? "" : $"{postgres.Host}/{postgres.Database}";
            }
            catch (ArgumentException)
            {
                return "";
            }
        }
    }

    /// <summary>The password in the connection string, if any: what an error text must never show.</summary>
    internal string? Password
    {
        get
        {
            try
            {
                return Provider == JournalProvider.Sqlite
                    ? new SqliteConnectionStringBuilder(ConnectionString).Password
                    : new NpgsqlConnectionStringBuilder(ConnectionString).Password;
            }
            catch (ArgumentException)
            {
                return null;
            }
        }
    }

    public override string ToString() => $"{Provider} journal";
}
