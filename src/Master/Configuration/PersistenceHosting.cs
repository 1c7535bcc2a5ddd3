using Akka.Hosting;
using Akka.Persistence.Hosting;
using Akka.Persistence.Sql.Hosting;
using LinqToDB;

namespace AiSystem.Master.Configuration;

public static class PersistenceHosting
{
    /// <summary>
    /// Journal and snapshots in SQL (Akka.Persistence.Sql): an embedded SQLite file by default, PostgreSQL for
    /// production. Tables are created on first start.
    /// </summary>
    public static AkkaConfigurationBuilder WithAiPersistence(this AkkaConfigurationBuilder builder, PersistenceOptions options, string contentRoot)
    {
        var (connectionString, provider) = Resolve(options, contentRoot);
        if (provider != ProviderName.SQLiteMS)
            return builder.WithSqlPersistence(connectionString, provider, PersistenceMode.Both, autoInitialize: true);

        UseWriteAheadLog(connectionString);
        // SQLite has one writer at a time. When two connections write at once, SQLite answers SQLITE_BUSY and
        // Microsoft.Data.Sqlite retries after sleeping 150 ms: the benchmark's profile showed those sleeps as most of
        // the time. So: one journal write batch at a time (the plugin's default is 3; each batch holds many events),
        // and every connection waits for the lock inside SQLite (busy_timeout, millisecond back-off) instead.
        var data = new DataOptions().UseConnectionString(provider, connectionString).UseInterceptor(new SqliteConnectionSetup());
        builder.WithSqlPersistence(
            new Akka.Persistence.Sql.Hosting.SqlJournalOptions(isDefaultPlugin: true)
            {
                ConnectionString = connectionString, ProviderName = provider, AutoInitialize = true, DataOptions = data,
            },
            new Akka.Persistence.Sql.Hosting.SqlSnapshotOptions(isDefaultPlugin: true)
            {
                ConnectionString = connectionString, ProviderName = provider, AutoInitialize = true, DataOptions = data,
            });
        return builder.AddHocon("akka.persistence.journal.sql.parallelism = 1", HoconAddMode.Prepend);
    }

    /// <summary>
    /// Per connection: wait up to 10 s for the write lock inside SQLite, and with write-ahead logging sync at
    /// checkpoints rather than at every commit (<c>synchronous=NORMAL</c>: a commit survives the process being killed,
    /// the last ones may not survive the machine losing power).
    /// </summary>
    private sealed class SqliteConnectionSetup : LinqToDB.Interceptors.ConnectionInterceptor
    {
        private const string Pragmas = "PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;";

        public override void ConnectionOpened(LinqToDB.Interceptors.ConnectionEventData eventData, System.Data.Common.DbConnection connection)
        {
            using var command = connection.CreateCommand();
            command.CommandText = Pragmas;
            command.ExecuteNonQuery();
        }

        public override async Task ConnectionOpenedAsync(LinqToDB.Interceptors.ConnectionEventData eventData, System.Data.Common.DbConnection connection,
            CancellationToken cancellationToken)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = Pragmas;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Write-ahead logging: a commit appends to the log instead of rewriting pages through a rollback journal (about a
    /// third of the time per commit here), and readers (recovery, snapshots) no longer block the writer. The mode is
    /// stored in the database file, so setting it once before the plugin opens the file is enough.
    /// </summary>
    private static void UseWriteAheadLog(string connectionString)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        command.ExecuteScalar();
    }

    public static (string ConnectionString, string Provider) Resolve(PersistenceOptions options, string contentRoot)
    {
        switch (options.Provider.Trim().ToLowerInvariant())
        {
            case "sqlite":
                var cs = options.ConnectionString;
                if (string.IsNullOrWhiteSpace(cs))
                {
                    var folder = Path.Combine(contentRoot, "data");
                    Directory.CreateDirectory(folder);
                    cs = $"Data Source={Path.Combine(folder, "aisystem.db")}";
                }
                return (cs, ProviderName.SQLiteMS);
            case "postgresql" or "postgres":
                if (string.IsNullOrWhiteSpace(options.ConnectionString))
                    throw new OptionsValidationException("Persistence__ConnectionString is required with Persistence__Provider=postgresql.");
                var postgres = new Npgsql.NpgsqlConnectionStringBuilder(options.ConnectionString);
                if (!string.IsNullOrEmpty(options.Password)) postgres.Password = options.Password;
                return (postgres.ConnectionString, ProviderName.PostgreSQL15);
            default:
                throw new OptionsValidationException($"Persistence__Provider must be sqlite or postgresql, got '{options.Provider}'.");
        }
    }
}
