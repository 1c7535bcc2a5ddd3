using System.Data.Common;
using AiSystem.Master.Configuration;

namespace AiSystem.Master.Dispatch;

/// <summary><see cref="IJournalIndex"/> on the journal table, for SQLite and PostgreSQL.</summary>
public sealed class SqlJournalIndex(string connectionString, bool postgres) : IJournalIndex
{
    public static SqlJournalIndex From(PersistenceOptions options, string contentRoot)
    {
        var (cs, provider) = PersistenceHosting.Resolve(options, contentRoot);
        return new SqlJournalIndex(cs, provider.StartsWith("PostgreSQL", StringComparison.Ordinal));
    }

    public async Task<long> HighestOrderingAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(MAX(ordering), 0) FROM journal";
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken));
    }

    public async Task<IReadOnlyList<string>> PersistenceIdsWrittenAfterAsync(long ordering, string prefix, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT DISTINCT persistence_id FROM journal WHERE ordering > @ordering AND persistence_id LIKE @prefix";
        AddParameter(command, "@ordering", ordering);
        AddParameter(command, "@prefix", prefix.Replace("%", "", StringComparison.Ordinal) + "%");
        var ids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (ids.Count < limit && await reader.ReadAsync(cancellationToken)) ids.Add(reader.GetString(0));
        return ids;
    }

    private async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        DbConnection connection = postgres ? new Npgsql.NpgsqlConnection(connectionString) : new Microsoft.Data.Sqlite.SqliteConnection(connectionString);
        await connection.OpenAsync(ct);
        return connection;
    }

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        command.Parameters.Add(p);
    }
}
