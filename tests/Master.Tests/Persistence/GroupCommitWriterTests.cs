using AiSystem.Master.Persistence;
using Microsoft.Data.Sqlite;

namespace AiSystem.Master.Tests.Persistence;

public sealed class GroupCommitWriterTests
{
    /// <summary>Records each transaction; the first one can be held until the test has queued more.</summary>
    private sealed class FakeDatabase : IJournalWriteTarget
    {
        public readonly List<IReadOnlyList<JournalRow>> Transactions = [];
        public readonly ManualResetEventSlim Release = new(true);
        public readonly ManualResetEventSlim Entered = new();
        public Func<IReadOnlyList<JournalRow>, Exception?> Fail = _ => null;
        public readonly HashSet<(string, long)> Stored = [];

        public void Insert(IReadOnlyList<JournalRow> rows)
        {
            Entered.Set();
            Release.Wait();
            if (Fail(rows) is { } error) throw error;
            if (rows.Any(r => Stored.Contains((r.PersistenceId, r.SequenceNr)))) throw Unique();
            foreach (var r in rows) Stored.Add((r.PersistenceId, r.SequenceNr));
            lock (Transactions) Transactions.Add([.. rows]);
        }

        public bool IsUniqueViolation(Exception error) => error is SqliteException { SqliteExtendedErrorCode: 2067 };

        private static SqliteException Unique() => new("UNIQUE constraint failed", 19, 2067);
    }

    private static JournalRow Row(string id, long seq) => new(id, seq, 1, [1], "", 1, "w");

    [Theory]
    [InlineData(WriterThread.Dedicated)]
    [InlineData(WriterThread.Pool)]
    public async Task Everything_waiting_goes_into_one_transaction_in_the_order_it_was_handed_in(WriterThread runOn)
    {
        var db = new FakeDatabase();
        var health = new JournalHealth();
        using var writer = new GroupCommitWriter(db, health, runOn: runOn);
        db.Release.Reset();
        var first = writer.WriteAsync([Row("a", 1)]);
        db.Entered.Wait(TimeSpan.FromSeconds(10));
        var waiting = Enumerable.Range(0, 10).Select(i => writer.WriteAsync([Row($"b{i}", 1), Row($"b{i}", 2)])).ToList();
        Assert.Equal(21, health.QueuedRows);
        db.Release.Set();
        await Task.WhenAll(waiting.Append(first));

        Assert.Equal(2, db.Transactions.Count);
        Assert.Equal(Enumerable.Range(0, 10).SelectMany(i => new[] { ($"b{i}", 1L), ($"b{i}", 2L) }),
            db.Transactions[1].Select(r => (r.PersistenceId, r.SequenceNr)));
        Assert.Equal((2, 21, 0), (health.CommittedBatches, health.CommittedRows, health.QueuedRows));
    }

    [Theory]
    [InlineData(WriterThread.Dedicated)]
    [InlineData(WriterThread.Pool)]
    public async Task A_batch_holds_at_most_the_row_limit_but_never_splits_a_write(WriterThread runOn)
    {
        var db = new FakeDatabase();
        using var writer = new GroupCommitWriter(db, new JournalHealth(), maxRows: 3, runOn: runOn);
        db.Release.Reset();
        var first = writer.WriteAsync([Row("x", 1)]);
        db.Entered.Wait(TimeSpan.FromSeconds(10));
        var rest = new[] { writer.WriteAsync([Row("a", 1), Row("a", 2)]), writer.WriteAsync([Row("b", 1), Row("b", 2)]), writer.WriteAsync([Row("c", 1)]) };
        db.Release.Set();
        await Task.WhenAll(rest.Append(first));
        Assert.Equal([1, 2, 3], db.Transactions.Select(t => t.Count));
    }

    [Theory]
    [InlineData(WriterThread.Dedicated)]
    [InlineData(WriterThread.Pool)]
    public async Task A_conflict_fails_only_the_write_that_caused_it(WriterThread runOn)
    {
        var db = new FakeDatabase();
        db.Stored.Add(("taken", 1));
        var health = new JournalHealth();
        using var writer = new GroupCommitWriter(db, health, runOn: runOn);
        db.Release.Reset();
        var first = writer.WriteAsync([Row("x", 1)]);
        db.Entered.Wait(TimeSpan.FromSeconds(10));
        var before = writer.WriteAsync([Row("a", 1)]);
        var conflict = writer.WriteAsync([Row("taken", 1)]);
        var after = writer.WriteAsync([Row("b", 1)]);
        db.Release.Set();

        await Task.WhenAll(first, before, after);
        var error = await Assert.ThrowsAsync<JournalWriteConflictException>(() => conflict);
        Assert.Contains("sequence numbers 1..1", error.Message);
        Assert.Equal(["x", "a", "b"], db.Transactions.SelectMany(t => t).Select(r => r.PersistenceId));
        Assert.Equal(0, health.ConsecutiveFailedBatches); // the database is fine
    }

    [Theory]
    [InlineData(WriterThread.Dedicated)]
    [InlineData(WriterThread.Pool)]
    public async Task An_outage_fails_every_waiting_write_and_shows_in_health_until_a_batch_commits(WriterThread runOn)
    {
        var db = new FakeDatabase { Fail = _ => new IOException("disk I/O error") };
        var health = new JournalHealth();
        using var writer = new GroupCommitWriter(db, health, runOn: runOn);
        var one = writer.WriteAsync([Row("a", 1)]);
        var two = writer.WriteAsync([Row("b", 1)]);
        await Assert.ThrowsAsync<IOException>(() => one);
        await Assert.ThrowsAsync<IOException>(() => two);
        Assert.InRange(health.ConsecutiveFailedBatches, 1, 2);
        Assert.Equal(("System.IO.IOException", "disk I/O error"), (health.LastError?.Type, health.LastError?.Message));
        Assert.Null(health.LastSuccessfulWrite);

        db.Fail = _ => null;
        await writer.WriteAsync([Row("c", 1)]);
        Assert.Equal(0, health.ConsecutiveFailedBatches);
        Assert.NotNull(health.LastSuccessfulWrite);
        Assert.Equal(0, health.QueuedRows);
    }

    [Theory]
    [InlineData(WriterThread.Dedicated)]
    [InlineData(WriterThread.Pool)]
    public async Task Operations_run_in_order_between_writes_and_after_shutdown_nothing_is_taken(WriterThread runOn)
    {
        var db = new FakeDatabase();
        var writer = new GroupCommitWriter(db, new JournalHealth(), runOn: runOn);
        var seen = new List<string>();
        var write = writer.WriteAsync([Row("a", 1)]);
        var operation = writer.RunAsync(() => { lock (db.Transactions) seen.Add($"after {db.Transactions.Count} transaction(s)"); });
        await Task.WhenAll(write, operation);
        Assert.Equal(["after 1 transaction(s)"], seen);

        writer.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => writer.WriteAsync([Row("b", 1)]));
    }

    [Fact]
    public async Task On_the_pool_a_drain_ends_when_nothing_waits_a_later_write_starts_another_and_dispose_waits_for_it()
    {
        var db = new FakeDatabase();
        var writer = new GroupCommitWriter(db, new JournalHealth(), runOn: WriterThread.Pool);
        await writer.WriteAsync([Row("a", 1)]);
        await writer.WriteAsync([Row("b", 1)]); // after the first drain ended
        db.Release.Reset();
        db.Entered.Reset();
        var held = writer.WriteAsync([Row("c", 1)]);
        db.Entered.Wait(TimeSpan.FromSeconds(10));
        var disposing = Task.Run(writer.Dispose);
        Assert.NotSame(disposing, await Task.WhenAny(disposing, Task.Delay(TimeSpan.FromMilliseconds(200)))); // still writing: Dispose waits
        db.Release.Set();
        await disposing.WaitAsync(TimeSpan.FromSeconds(10));
        await held;
        Assert.Equal(["a", "b", "c"], db.Transactions.SelectMany(t => t).Select(r => r.PersistenceId));
    }
}
