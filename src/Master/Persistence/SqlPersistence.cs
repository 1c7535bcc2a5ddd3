using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;

namespace AiSystem.Master.Persistence;

/// <summary>
/// Which database the plugins use, handed to the actor system as a setup (not HOCON: the connection string may hold
/// a password, and HOCON ends up in logs).
/// </summary>
public sealed class SqlPersistenceSetup(JournalConnection connection, int maxBatchRows = 1000) : Setup
{
    public JournalConnection Connection { get; } = connection;

    /// <summary>At most this many rows per journal transaction.</summary>
    public int MaxBatchRows { get; } = maxBatchRows;

    /// <summary>
    /// Our journal and snapshot store as the default plugins; they fall back to Akka's plugin defaults, except for the
    /// circuit breaker in front of each: after 5 failures in a row it fails calls at once, and tries the database
    /// again after 2 s (Akka's default, 30 s, kept every session from recovering for half a minute after a database
    /// restart). A call may take 20 s: a SQLite writer waits up to 10 s for a lock held by another process.
    /// </summary>
    public const string Hocon = """
        akka.persistence.journal.plugin = "akka.persistence.journal.aisystem-sql"
        akka.persistence.journal.aisystem-sql.class = "AiSystem.Master.Persistence.SqlJournal, AiSystem.Master"
        akka.persistence.journal.aisystem-sql.circuit-breaker { max-failures = 5, call-timeout = 20s, reset-timeout = 2s }
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.aisystem-sql"
        akka.persistence.snapshot-store.aisystem-sql.class = "AiSystem.Master.Persistence.SqlSnapshotStore, AiSystem.Master"
        akka.persistence.snapshot-store.aisystem-sql.circuit-breaker { max-failures = 5, call-timeout = 20s, reset-timeout = 2s }
        """;
}

/// <summary>
/// One <see cref="JournalDatabase"/> per actor system, shared by the journal and the snapshot store (so SQLite has one
/// writer), and closed when the actor system has stopped every actor.
/// </summary>
public sealed class SqlPersistence : IExtension
{
    internal SqlPersistence(JournalDatabase database) => Database = database;

    public JournalDatabase Database { get; }

    public JournalHealth Health => Database.Health;

    public static SqlPersistence Get(ActorSystem system) => system.WithExtension<SqlPersistence, SqlPersistenceProvider>();
}

public sealed class SqlPersistenceProvider : ExtensionIdProvider<SqlPersistence>
{
    public override SqlPersistence CreateExtension(ExtendedActorSystem system)
    {
        var setup = system.Settings.Setup.Get<SqlPersistenceSetup>();
        if (!setup.HasValue)
            throw new ConfigurationException($"The actor system has no {nameof(SqlPersistenceSetup)}: configure it with WithAiPersistence (or add the setup) before using the journal.");
        var database = JournalDatabase.Create(setup.Value.Connection, new JournalHealth(setup.Value.Connection), setup.Value.MaxBatchRows);
        system.RegisterOnTermination(database.Dispose);
        return new SqlPersistence(database);
    }
}
