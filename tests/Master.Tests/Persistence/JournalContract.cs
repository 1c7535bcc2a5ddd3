using Akka.Actor;
using Akka.Persistence;
using AiSystem.Master.Persistence;
using static AiSystem.Master.Tests.Persistence.PersistenceTestHost;

namespace AiSystem.Master.Tests.Persistence;

/// <summary>
/// What our journal and snapshot store must do on either database, through real actor systems. SQLite runs it in
/// Master.Tests, PostgreSQL in Integration.Tests (which links this file).
/// </summary>
public abstract class JournalContract
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>A fresh, empty database of the test's own.</summary>
    protected abstract JournalConnection Database { get; }

    /// <summary>A database that cannot be opened or reached.</summary>
    protected abstract JournalConnection Unreachable { get; }

    [Fact]
    public async Task Events_come_back_in_order_after_a_new_actor_system_and_new_ones_follow_them()
    {
        await using (var host = await StartAsync(Database))
        {
            var actor = host.Actor("session-round-trip");
            Assert.Equal(3, (await AskAsync<EventsPersisted>(actor, new PersistEvents(["one", "two", "three"]))).LastSequenceNr);
            Assert.Equal(4, (await AskAsync<EventsPersisted>(actor, new PersistEvents(["four"]))).LastSequenceNr);
            Assert.NotNull(host.Health.LastSuccessfulWrite);
            Assert.Equal(0, host.Health.QueuedRows);
        }

        await using (var host = await StartAsync(Database))
        {
            var actor = host.Actor("session-round-trip");
            var state = await StateAsync(actor);
            Assert.Equal(["one", "two", "three", "four"], state.Events);
            Assert.Equal(4, state.LastSequenceNr);
            Assert.Equal(5, (await AskAsync<EventsPersisted>(actor, new PersistEvents(["five"]))).LastSequenceNr);
            Assert.Empty(host.Notes);
        }
    }

    [Fact]
    public async Task Many_actors_persisting_at_once_share_transactions_and_every_event_comes_back_in_order()
    {
        const int Actors = 50, Each = 40;
        await using (var host = await StartAsync(Database))
        {
            var actors = Enumerable.Range(0, Actors).Select(i => host.Actor($"session-many-{i}")).ToList();
            await Task.WhenAll(actors.Select(StateAsync)); // all recovered: from here on the writes start together
            // Every event its own PersistAsync, all sent at once; the last reply of each actor comes after its 40 writes.
            var last = new List<Task<EventsPersisted>>();
            for (var i = 0; i < Actors; i++)
            {
                for (var n = 1; n < Each; n++) actors[i].Tell(new PersistEvents([$"{i}:{n}"], Async: true));
                last.Add(AskAsync<EventsPersisted>(actors[i], new PersistEvents([$"{i}:{Each}"], Async: true)));
            }
            Assert.All(await Task.WhenAll(last), p => Assert.Equal(Each, p.LastSequenceNr));
            Assert.Equal(Actors * Each, host.Health.CommittedRows);
            Assert.True(host.Health.CommittedBatches < Actors * Each / 4,
                $"{host.Health.CommittedBatches} transactions for {Actors * Each} rows: the writes were not grouped");
        }

        await using (var host = await StartAsync(Database))
        {
            var states = await Task.WhenAll(Enumerable.Range(0, Actors).Select(i => StateAsync(host.Actor($"session-many-{i}"))));
            for (var i = 0; i < Actors; i++)
            {
                Assert.Equal(Enumerable.Range(1, Each).Select(n => $"{i}:{n}"), states[i].Events.Cast<string>());
                Assert.Equal(Each, states[i].LastSequenceNr);
            }
        }
    }

    [Fact]
    public async Task After_deleting_every_event_the_actor_still_continues_after_the_highest_sequence_number()
    {
        await using (var host = await StartAsync(Database))
        {
            var all = host.Actor("session-deleted");
            await AskAsync<EventsPersisted>(all, new PersistEvents(["a", "b", "c", "d", "e"]));
            await AskAsync<EventsDeleted>(all, new DeleteEventsTo(5));
            var some = host.Actor("session-partly-deleted");
            await AskAsync<EventsPersisted>(some, new PersistEvents(["a", "b", "c", "d", "e"]));
            await AskAsync<EventsDeleted>(some, new DeleteEventsTo(3));
            Assert.Equal(5, await host.Database.HighestSequenceNrAsync("session-deleted"));
        }

        await using (var host = await StartAsync(Database))
        {
            var all = host.Actor("session-deleted");
            var state = await StateAsync(all);
            Assert.Empty(state.Events);
            Assert.Equal(5, state.LastSequenceNr);
            Assert.Equal(6, (await AskAsync<EventsPersisted>(all, new PersistEvents(["f"]))).LastSequenceNr);

            var some = await StateAsync(host.Actor("session-partly-deleted"));
            Assert.Equal(["d", "e"], some.Events);
            Assert.Equal(5, some.LastSequenceNr);
        }
    }

    [Fact]
    public async Task A_purge_deletes_every_row_of_a_persistence_id_and_it_starts_over_at_one()
    {
        await using (var host = await StartAsync(Database))
        {
            var purged = host.Actor("session-purged");
            await AskAsync<EventsPersisted>(purged, new PersistEvents(["a", "b", "c", "d", "e"]));
            await AskAsync<StateSaved>(purged, new SaveState("state-at-5"));
            await AskAsync<EventsDeleted>(purged, new DeleteEventsTo(5)); // leaves the highest row, marked deleted
            await AskAsync<EventsPersisted>(purged, new PersistEvents(["f"]));
            await AskAsync<EventsPersisted>(host.Actor("session-purged-not"), new PersistEvents(["kept"])); // a prefix of it
            await AskAsync<EventsPersisted>(host.Actor("session-kept"), new PersistEvents(["kept"]));
            await ExecuteAsync("INSERT INTO tags (ordering_id, tag, sequence_nr, persistence_id) VALUES (1, 'old', 1, 'session-purged')");
            Assert.Equal(4, await CountRowsAsync("session-purged")); // rows 5 (the marker) and 6, a snapshot, a tag

            var journal = Akka.Persistence.Persistence.Instance.Apply(host.Sys).JournalFor(null);
            Assert.Equal("session-purged", (await journal.Ask<PersistenceIdPurged>(new PurgePersistenceId("session-purged"), Deadline)).PersistenceId);
            Assert.Equal(0, await CountRowsAsync("session-purged"));
            Assert.Equal(0, await host.Database.HighestSequenceNrAsync("session-purged"));
            Assert.Equal(1, await CountRowsAsync("session-purged-not"));
            Assert.Equal(1, await CountRowsAsync("session-kept"));
            await journal.Ask<PersistenceIdPurged>(new PurgePersistenceId("session-never-written"), Deadline); // nothing to do is fine
        }

        await using (var host = await StartAsync(Database))
        {
            var again = host.Actor("session-purged");
            var state = await StateAsync(again);
            Assert.Empty(state.Events);
            Assert.Null(state.Snapshot);
            Assert.Equal(0, state.LastSequenceNr);
            Assert.Equal(1, (await AskAsync<EventsPersisted>(again, new PersistEvents(["anew"]))).LastSequenceNr);
            Assert.Equal(["kept"], (await StateAsync(host.Actor("session-kept"))).Events);
        }
    }

    [Fact]
    public async Task A_purge_that_fails_deletes_nothing_and_says_why()
    {
        await using var host = await StartAsync(Database);
        var actor = host.Actor("session-not-purged");
        await AskAsync<EventsPersisted>(actor, new PersistEvents(["a", "b"]));
        await AskAsync<StateSaved>(actor, new SaveState("state-at-2"));
        await ExecuteAsync("DROP TABLE tags"); // the second of the purge's three statements fails
        var journal = Akka.Persistence.Persistence.Instance.Apply(host.Sys).JournalFor(null);
        var failed = await journal.Ask<PersistenceIdPurgeFailed>(new PurgePersistenceId("session-not-purged"), Deadline);
        Assert.NotNull(failed.Cause);
        Assert.Equal(failed.Cause.GetType().FullName, host.Health.LastError?.Type);
        await using var db = await Database.OpenAsync();
        foreach (var table in new[] { "journal", "snapshot" })
        {
            await using var count = db.CreateCommand();
            count.CommandText = $"SELECT COUNT(*) FROM {table} WHERE persistence_id = 'session-not-purged'";
            Assert.True(Convert.ToInt64(await count.ExecuteScalarAsync()) > 0, $"the purge deleted rows of {table} although it failed");
        }
    }

    /// <summary>Rows of <paramref name="persistenceId"/> in journal, snapshot and tags together.</summary>
    private async Task<long> CountRowsAsync(string persistenceId)
    {
        await using var db = await Database.OpenAsync();
        await using var command = db.CreateCommand();
        command.CommandText = """
            SELECT (SELECT COUNT(*) FROM journal WHERE persistence_id = @pid) + (SELECT COUNT(*) FROM snapshot WHERE persistence_id = @pid)
                + (SELECT COUNT(*) FROM tags WHERE persistence_id = @pid)
            """;
        var pid = command.CreateParameter();
        pid.ParameterName = "@pid";
        pid.Value = persistenceId;
        command.Parameters.Add(pid);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var db = await Database.OpenAsync();
        await using var command = db.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Snapshots_are_saved_loaded_by_criteria_and_deleted()
    {
        await using (var host = await StartAsync(Database))
        {
            var actor = host.Actor("session-snapshots");
            await AskAsync<EventsPersisted>(actor, new PersistEvents(["1", "2", "3"]));
            Assert.Equal(3, (await AskAsync<StateSaved>(actor, new SaveState("state-at-3"))).SequenceNr);
            await AskAsync<EventsPersisted>(actor, new PersistEvents(["4", "5", "6"]));
            await AskAsync<StateSaved>(actor, new SaveState("state-at-6"));
            await AskAsync<StateSaved>(actor, new SaveState("state-at-6-again")); // same sequence number: replaces it
            await AskAsync<EventsPersisted>(actor, new PersistEvents(["7"]));
        }

        await using (var host = await StartAsync(Database))
        {
            var newest = await StateAsync(host.Actor("session-snapshots"));
            Assert.Equal(("state-at-6-again", 6L), (newest.Snapshot, newest.SnapshotSequenceNr));
            Assert.Equal(["7"], newest.Events);

            var upTo4 = await StateAsync(host.Actor("session-snapshots-4", new Recovery(new SnapshotSelectionCriteria(4))));
            Assert.Null(upTo4.Snapshot); // another persistence id: nothing
            var older = await StateAsync(host.Actor("session-snapshots", new Recovery(new SnapshotSelectionCriteria(4))));
            Assert.Equal(("state-at-3", 3L), (older.Snapshot, older.SnapshotSequenceNr));
            Assert.Equal(["4", "5", "6", "7"], older.Events);
            var tooOld = await StateAsync(host.Actor("session-snapshots", new Recovery(new SnapshotSelectionCriteria(6, DateTime.UtcNow.AddYears(-1)))));
            Assert.Null(tooOld.Snapshot);
            Assert.Equal(7, tooOld.Events.Count);
        }

        await using (var host = await StartAsync(Database))
        {
            var actor = host.Actor("session-snapshots");
            await StateAsync(actor);
            await AskAsync<SnapshotsDeleted>(actor, new DeleteSnapshotAt(6));
            Assert.Equal("state-at-3", (await StateAsync(host.Actor("session-snapshots"))).Snapshot);
            await AskAsync<SnapshotsDeleted>(actor, new DeleteSnapshotsTo(long.MaxValue));
            var none = await StateAsync(host.Actor("session-snapshots"));
            Assert.Null(none.Snapshot);
            Assert.Equal(7, none.Events.Count);
        }
    }

    [Fact]
    public async Task A_payload_that_cannot_be_serialized_rejects_only_its_own_write()
    {
        await using (var host = await StartAsync(Database))
        {
            var actor = host.Actor("session-rejected");
            var other = host.Actor("session-beside-rejected");
            await AskAsync<EventsPersisted>(actor, new PersistEvents(["before"]));
            actor.Tell(new PersistEvents([new Unserializable("no")]));
            var busy = AskAsync<EventsPersisted>(other, new PersistEvents([.. Enumerable.Range(0, 20).Select(i => $"other-{i}")], Async: true));
            var rejected = await Eventually.FindAsync<PersistRejected>(host.Notes, Deadline, "the rejection");
            Assert.IsType<Unserializable>(rejected.Event);
            Assert.Contains("refuses to be serialized", rejected.Cause.Message);
            await AskAsync<EventsPersisted>(actor, new PersistEvents(["after"])); // the actor lives on
            await busy;
            Assert.DoesNotContain(host.Notes, n => n is PersistFailed);
        }

        await using (var host = await StartAsync(Database))
        {
            Assert.Equal(["before", "after"], (await StateAsync(host.Actor("session-rejected"))).Events);
            Assert.Equal(20, (await StateAsync(host.Actor("session-beside-rejected"))).Events.Count);
        }
    }

    [Fact]
    public async Task A_second_writer_of_the_same_persistence_id_fails_alone()
    {
        await using var host = await StartAsync(Database);
        var first = host.Actor("session-twice");
        var second = host.Actor("session-twice"); // two incarnations, as after a split brain
        await StateAsync(first);
        await StateAsync(second);
        await AskAsync<EventsPersisted>(first, new PersistEvents(["first-1"]));
        second.Tell(new PersistEvents(["second-1"]));
        var bystander = AskAsync<EventsPersisted>(host.Actor("session-bystander"), new PersistEvents(["fine"]));
        var failed = await Eventually.FindAsync<PersistFailed>(host.Notes, Deadline, "the conflicting write to fail");
        Assert.IsType<JournalWriteConflictException>(failed.Cause);
        Assert.Equal(1, (await bystander).LastSequenceNr);
        Assert.Equal(["first-1"], (await StateAsync(host.Actor("session-twice"))).Events);
    }

    [Fact]
    public async Task A_database_that_cannot_be_reached_fails_writes_and_recovery_instead_of_hanging()
    {
        await using var host = await StartAsync(Unreachable);
        var journal = Akka.Persistence.Persistence.Instance.Apply(host.Sys).JournalFor(null);
        var replies = new System.Collections.Concurrent.ConcurrentQueue<object>();
        var probe = host.Sys.ActorOf(Props.Create(() => new Collector(replies)));
        var write = new AtomicWrite(new Persistent("lost", 1, "session-unreachable", writerGuid: Guid.NewGuid().ToString()));
        journal.Tell(new WriteMessages([write], probe, 1));
        var failure = await Eventually.FindAsync<WriteMessageFailure>(replies, Deadline, "the write to fail");
        Assert.NotNull(failure.Cause);
        Assert.True(host.Health.ConsecutiveFailedBatches >= 1);
        Assert.NotNull(host.Health.LastError);

        host.Actor("session-unreachable");
        await Eventually.FindAsync<RecoveryFailed>(host.Notes, Deadline, "the recovery to fail");
    }

    [Fact]
    public async Task A_journal_that_breaks_after_recovery_fails_the_write_with_an_exception()
    {
        await using var host = await StartAsync(Database);
        var actor = host.Actor("session-breaks");
        await AskAsync<EventsPersisted>(actor, new PersistEvents(["fine"]));
        await using (var db = await Database.OpenAsync())
        {
            await using var drop = db.CreateCommand();
            drop.CommandText = "DROP TABLE journal";
            await drop.ExecuteNonQueryAsync();
        }
        actor.Tell(new PersistEvents(["lost"]));
        var failed = await Eventually.FindAsync<PersistFailed>(host.Notes, Deadline, "OnPersistFailure");
        Assert.Equal("lost", failed.Event);
        Assert.Equal(1, host.Health.ConsecutiveFailedBatches);
        Assert.Equal(failed.Cause.GetType().FullName, host.Health.LastError?.Type);
        var check = await Akka.Persistence.Persistence.Instance.Apply(host.Sys).CheckJournalHealthAsync("akka.persistence.journal.aisystem-sql", default);
        Assert.Equal(PersistenceHealthStatus.Unhealthy, check.Status);
    }

    [Fact]
    public async Task The_journal_index_finds_what_was_written_after_an_ordering()
    {
        await using var host = await StartAsync(Database);
        Assert.Equal(0, await host.Index.HighestOrderingAsync());
        await AskAsync<EventsPersisted>(host.Actor("session-a"), new PersistEvents(["1", "2"]));
        await AskAsync<EventsPersisted>(host.Actor("session-b"), new PersistEvents(["1"]));
        await AskAsync<EventsPersisted>(host.Actor("dispatcher"), new PersistEvents(["1"]));
        await AskAsync<EventsPersisted>(host.Actor("Session-upper"), new PersistEvents(["1"]));
        var mark = await host.Index.HighestOrderingAsync();
        Assert.Equal(5, mark);
        Assert.Equal(["session-a", "session-b"], await host.Index.PersistenceIdsWrittenAfterAsync(0, "session-", 10));
        Assert.Equal(["session-a"], await host.Index.PersistenceIdsWrittenAfterAsync(0, "session-", 1));

        await AskAsync<EventsPersisted>(host.Actor("session-b"), new PersistEvents(["2"]));
        Assert.Equal(["session-b"], await host.Index.PersistenceIdsWrittenAfterAsync(mark, "session-", 10));
        Assert.Empty(await host.Index.PersistenceIdsWrittenAfterAsync(mark + 1, "session-", 10));
        Assert.Equal(["dispatcher"], await host.Index.PersistenceIdsWrittenAfterAsync(0, "dispatcher", 10));
    }

    private sealed class Collector : ReceiveActor
    {
        public Collector(System.Collections.Concurrent.ConcurrentQueue<object> replies) => ReceiveAny(replies.Enqueue);
    }
}
