using AiSystem.Master.Persistence;
using Microsoft.Data.Sqlite;

namespace AiSystem.Master.Tests.Persistence;

/// <summary>The journal contract on SQLite: each test on a file of its own, deleted afterwards.</summary>
public sealed class SqliteJournalTests : JournalContract, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("aisystem-journal-").FullName;

    protected override JournalConnection Database => new(JournalProvider.Sqlite, $"Data Source={Path.Combine(_folder, "journal.db")}");

    // A directory is not a database file: SQLite cannot open it.
    protected override JournalConnection Unreachable => new(JournalProvider.Sqlite, $"Data Source={_folder}");

    public void Dispose() => SqliteFiles.Delete(_folder, Database.ConnectionString);
}

public static class SqliteFiles
{
    /// <summary>Closes the pooled connections to the file (so nothing holds it) and deletes the folder.</summary>
    public static void Delete(string folder, string connectionString)
    {
        using (var connection = new SqliteConnection(connectionString)) SqliteConnection.ClearPool(connection);
        Directory.Delete(folder, recursive: true);
    }
}
