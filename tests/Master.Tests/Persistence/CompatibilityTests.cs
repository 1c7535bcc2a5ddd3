using System.Text;
using AiSystem.Master.Persistence;
using static AiSystem.Master.Tests.Persistence.PersistenceTestHost;

namespace AiSystem.Master.Tests.Persistence;

/// <summary>
/// A SQLite file written by the previous journal (Akka.Persistence.Sql 1.5.73, tests/fixtures/journal): its rows come
/// back as they were stored (ids, sequence numbers, manifests, serializer ids, bytes) and new writes go after them.
/// </summary>
public sealed class CompatibilityTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("aisystem-journal-old-").FullName;
    private readonly JournalConnection _connection;

    public CompatibilityTests()
    {
        var file = Path.Combine(_folder, "old.db");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "fixtures", "journal", "akka-persistence-sql-1.5.73.db"), file);
        _connection = new JournalConnection(JournalProvider.Sqlite, $"Data Source={file}");
    }

    public void Dispose() => SqliteFiles.Delete(_folder, _connection.ConnectionString);

    [Fact]
    public async Task Rows_of_the_previous_journal_come_back_byte_for_byte()
    {
        await using var host = await StartAsync(_connection);
        var rows = new List<JournalRow>();
        await host.Database.ReplayAsync("dispatcher-old", 1, long.MaxValue, long.MaxValue, rows.Add);

        Assert.Equal([1L, 2L], rows.Select(r => r.SequenceNr));
        Assert.All(rows, r => Assert.Equal(("dispatcher-old", "", 1, false), (r.PersistenceId, r.Manifest, r.Identifier, r.Deleted)));
        Assert.Equal("""{"$id":"1","$type":"OldTaskAccepted, jscratch","TaskId":"t-1","SessionId":"session-old-1","Query":"what is 2+2?"}""",
            Encoding.UTF8.GetString(rows[0].Message));
        Assert.Equal("""{"$id":"1","$type":"OldTaskAccepted, jscratch","TaskId":"t-2","SessionId":"session-old-1","Query":"and 3+3?"}""",
            Encoding.UTF8.GetString(rows[1].Message));
        Assert.Equal([6L, 7L], rows.Select(r => r.Ordering));
        Assert.Equal(3, await host.Database.HighestSequenceNrAsync("session-old-deleted")); // its deleted marker
    }

    [Fact]
    public async Task A_session_of_the_previous_journal_recovers_from_its_snapshot_and_continues()
    {
        await using (var host = await StartAsync(_connection))
        {
            var session = host.Actor("session-old-1");
            var state = await StateAsync(session);
            Assert.Equal(("snapshot-at-3", 3L), (state.Snapshot, state.SnapshotSequenceNr));
            Assert.Equal(["fourth", "fifth"], state.Events);
            Assert.Equal(6, (await AskAsync<EventsPersisted>(session, new PersistEvents(["sixth"]))).LastSequenceNr);

            var deleted = host.Actor("session-old-deleted");
            Assert.Empty((await StateAsync(deleted)).Events);
            Assert.Equal(4, (await AskAsync<EventsPersisted>(deleted, new PersistEvents(["d"]))).LastSequenceNr);
            Assert.True(await host.Index.HighestOrderingAsync() > 10); // after the old rows' ordering
        }

        await using (var host = await StartAsync(_connection))
        {
            var everything = await StateAsync(host.Actor("session-old-1", new Akka.Persistence.Recovery(Akka.Persistence.SnapshotSelectionCriteria.None)));
            Assert.Equal(["first", "second", "third", "fourth", "fifth", "sixth"], everything.Events);
        }
    }
}
