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
        return builder.WithSqlPersistence(connectionString, provider, PersistenceMode.Both, autoInitialize: true);
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
