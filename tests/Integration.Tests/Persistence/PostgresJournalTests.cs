using AiSystem.Integration.Tests.Infrastructure;
using AiSystem.Master.Persistence;
using AiSystem.Master.Tests.Persistence;
using Npgsql;

namespace AiSystem.Integration.Tests.Persistence;

/// <summary>One private PostgreSQL server for all the journal tests; each test gets a database of its own.</summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private int _databases;

    public Postgres Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await Postgres.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();

    public string NewDatabase()
    {
        var name = $"journal_{Interlocked.Increment(ref _databases)}";
        using (var admin = new NpgsqlConnection(Server.ConnectionString))
        {
            admin.Open();
            using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            create.ExecuteNonQuery();
        }
        return new NpgsqlConnectionStringBuilder(Server.ConnectionString) { Database = name }.ConnectionString;
    }
}

/// <summary>The journal contract (tests/Master.Tests/Persistence/JournalContract.cs) on a real PostgreSQL 15.</summary>
public sealed class PostgresJournalTests(PostgresServer postgres) : JournalContract, IClassFixture<PostgresServer>
{
    private readonly JournalConnection _database = new(JournalProvider.PostgreSql, postgres.NewDatabase());

    protected override JournalConnection Database => _database;

    // Nothing listens there: connecting is refused at once.
    protected override JournalConnection Unreachable { get; } =
        new(JournalProvider.PostgreSql, $"Host=127.0.0.1;Port={FreePort.Next()};Username=postgres;Database=none;Timeout=3");
}
