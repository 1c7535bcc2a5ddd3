using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Persistence;

namespace AiSystem.Master.Configuration;

public static class PersistenceHosting
{
    /// <summary>
    /// Journal and snapshots in SQL through our own plugins (<see cref="SqlJournal"/>, <see cref="SqlSnapshotStore"/>):
    /// an embedded SQLite file by default, PostgreSQL for production. Tables are created on first use, the same ones
    /// Akka.Persistence.Sql created, so older databases open unchanged.
    /// </summary>
    public static AkkaConfigurationBuilder WithAiPersistence(this AkkaConfigurationBuilder builder, JournalConnection connection)
    {
        builder.AddSetup(new SqlPersistenceSetup(connection));
        return builder.AddHocon(SqlPersistenceSetup.Hocon, HoconAddMode.Prepend);
    }

    /// <summary>
    /// <see cref="JournalIndex"/> (queries outside actors, same database), <see cref="JournalHealth"/> (what the
    /// plugins report) and <see cref="JournalProbe"/> (its status for operators) in DI, for recovery, readiness,
    /// metrics, <c>/api/journal</c> and the dashboard.
    /// </summary>
    public static IServiceCollection AddJournalServices(this IServiceCollection services, JournalConnection connection)
    {
        var index = new JournalIndex(connection);
        services.AddSingleton(index);
        services.AddSingleton<Dispatch.IJournalIndex>(index);
        services.AddSingleton(sp => SqlPersistence.Get(sp.GetRequiredService<ActorSystem>()).Health);
        services.AddSingleton(sp => new JournalProbe(connection, sp.GetRequiredService<JournalHealth>(), index));
        return services;
    }

    public static JournalConnection Resolve(PersistenceOptions options, string contentRoot)
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
                return new JournalConnection(JournalProvider.Sqlite, cs);
            case "postgresql" or "postgres":
                if (string.IsNullOrWhiteSpace(options.ConnectionString))
                    throw new OptionsValidationException("Persistence__ConnectionString is required with Persistence__Provider=postgresql.");
                var postgres = new Npgsql.NpgsqlConnectionStringBuilder(options.ConnectionString);
                if (!string.IsNullOrEmpty(options.Password)) postgres.Password = options.Password;
                return new JournalConnection(JournalProvider.PostgreSql, postgres.ConnectionString);
            default:
                throw new OptionsValidationException($"Persistence__Provider must be sqlite or postgresql, got '{options.Provider}'.");
        }
    }
}
