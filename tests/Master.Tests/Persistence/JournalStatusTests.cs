using AiSystem.Master.Persistence;

namespace AiSystem.Master.Tests.Persistence;

/// <summary>What operators see of the journal (<c>GET /api/journal</c>, the dashboard, <c>aictl journal</c>).</summary>
public class JournalStateTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
    private static readonly TimeSpan Settle = JournalState.RecoveringFor;

    private static JournalHealth Down(int failedBatches)
    {
        var health = new JournalHealth();
        health.BatchCommitted(T0, 1);
        for (var i = 0; i < failedBatches; i++) health.BatchFailed(new InvalidOperationException("down"), T0.AddSeconds(1));
        return health;
    }

    [Fact]
    public void A_journal_that_never_failed_is_ok_even_before_its_first_write()
    {
        Assert.Equal(JournalState.Ok, JournalState.Of(new JournalHealth(), T0));
        Assert.Equal(JournalState.Ok, JournalState.Of(Down(failedBatches: 0), T0.AddDays(1)));
    }

    [Fact]
    public void A_failed_batch_is_failing_until_something_works_however_long_ago_it_failed()
    {
        var health = Down(failedBatches: 2);
        Assert.Equal(JournalState.Failing, JournalState.Of(health, T0.AddSeconds(1)));
        Assert.Equal(JournalState.Failing, JournalState.Of(health, T0.AddHours(1))); // as readiness says: nothing has worked since
    }

    [Fact]
    public void A_failed_read_or_snapshot_is_failing_too()
    {
        var health = new JournalHealth();
        health.Failed(new TimeoutException("read timed out"), T0);
        Assert.Equal(JournalState.Failing, JournalState.Of(health, T0));
        Assert.Equal(0, health.ConsecutiveFailedBatches);
    }

    [Fact]
    public void A_commit_after_the_failure_is_recovering_for_a_while_then_ok()
    {
        var health = Down(failedBatches: 3);
        health.BatchCommitted(T0.AddSeconds(5), 4);
        Assert.Equal(JournalState.Recovering, JournalState.Of(health, T0.AddSeconds(5)));
        Assert.Equal(JournalState.Recovering, JournalState.Of(health, T0.AddSeconds(1) + Settle - TimeSpan.FromMilliseconds(1)));
        Assert.Equal(JournalState.Ok, JournalState.Of(health, T0.AddSeconds(1) + Settle));
    }

    [Fact]
    public void A_database_that_answers_a_probe_is_recovering_until_a_write_batch_commits()
    {
        var health = Down(failedBatches: 2);
        health.ProbeSucceeded(T0.AddSeconds(2));
        Assert.Equal(JournalState.Recovering, JournalState.Of(health, T0.AddSeconds(2)));
        Assert.Equal(JournalState.Recovering, JournalState.Of(health, T0.AddHours(1))); // no write has proved it yet

        health.BatchCommitted(T0.AddHours(1), 1);
        Assert.Equal(JournalState.Ok, JournalState.Of(health, T0.AddHours(1)));
    }

    [Fact]
    public void A_failed_read_followed_by_a_probe_is_recovering_only_for_a_while()
    {
        var health = new JournalHealth();
        health.Failed(new TimeoutException("read timed out"), T0);
        health.ProbeSucceeded(T0.AddSeconds(1));
        Assert.Equal(JournalState.Recovering, JournalState.Of(health, T0.AddSeconds(1)));
        Assert.Equal(JournalState.Ok, JournalState.Of(health, T0 + Settle));
    }

    [Fact]
    public void A_write_conflict_leaves_an_error_but_the_journal_ok()
    {
        var health = new JournalHealth();
        health.BatchCommitted(T0, 1);
        health.Failed(new InvalidOperationException("sequence conflict"), T0.AddSeconds(1), outage: false);
        Assert.Equal(JournalState.Ok, JournalState.Of(health, T0.AddSeconds(1)));
        Assert.Equal("sequence conflict", health.LastError!.Message);
    }

    [Fact]
    public void The_status_carries_the_counters_and_the_last_error()
    {
        var connection = new JournalConnection(JournalProvider.Sqlite, "Data Source=/var/lib/aisystem/data/aisystem.db");
        var health = new JournalHealth(connection);
        health.BatchCommitted(T0, 5);
        health.BatchCommitted(T0.AddSeconds(1), 3);
        health.SnapshotSaved(120);
        health.RowsQueued(7);
        health.BatchFailed(new InvalidOperationException("SQLite Error 5: 'database is locked'."), T0.AddSeconds(2));

        var status = JournalStatus.Of(connection, health, T0.AddSeconds(3));

        Assert.Equal(("sqlite", "aisystem.db", JournalState.Failing), (status.Provider, status.Location, status.State));
        Assert.Equal(T0.AddSeconds(1), status.LastSuccessfulWrite);
        Assert.Equal((1, 7, 8L, 2L, 1L), (status.ConsecutiveFailedBatches, status.RowsWaiting, status.RowsWritten, status.BatchesWritten, status.SnapshotsWritten));
        Assert.Equal(new JournalHealth.Error("System.InvalidOperationException", "SQLite Error 5: 'database is locked'.", T0.AddSeconds(2)), status.LastError);
    }
}

public class JournalLocationTests
{
    [Theory]
    [InlineData("Data Source=data/aisystem.db", "aisystem.db")]
    [InlineData("Data Source=/srv/ai/journal.sqlite;Cache=Shared", "journal.sqlite")]
    [InlineData("Data Source=file:/srv/ai/journal.db?mode=rwc", "journal.db")]
    [InlineData("Data Source=:memory:", ":memory:")]
    public void SQLite_shows_the_file_name_only(string connectionString, string expected) =>
        Assert.Equal(expected, new JournalConnection(JournalProvider.Sqlite, connectionString).Location);

    [Fact]
    public void PostgreSQL_shows_host_and_database_and_never_the_user_or_password()
    {
        var connection = new JournalConnection(JournalProvider.PostgreSql, "Host=db-1;Port=5433;Database=aisystem;Username=ai;Password=hunter2-secret");
        Assert.Equal("postgresql", connection.ProviderName);
        Assert.Equal("db-1/aisystem", connection.Location);
        Assert.Equal("db-1", new JournalConnection(JournalProvider.PostgreSql, "Host=db-1;Username=ai").Location);
        Assert.Equal("sqlite", new JournalConnection(JournalProvider.Sqlite, "Data Source=a.db").ProviderName);
    }
}

public class JournalErrorTextTests
{
    private static readonly JournalConnection Postgres =
        new(JournalProvider.PostgreSql, "Host=db-1;Database=aisystem;Username=ai;Password=hunter2-secret");

    [Fact]
    public void Only_the_first_line_is_kept_so_a_quoted_row_never_shows()
    {
        const string message = "23514: new row for relation \"journal\" violates check constraint \"x\"\n\n" +
            "DETAIL: Failing row contains (session-1, 5, What is my diagnosis?).";
        Assert.Equal("23514: new row for relation \"journal\" violates check constraint \"x\"", JournalErrorText.Clean(message, Postgres));
    }

    [Fact]
    public void The_connection_string_and_any_password_are_blanked_out()
    {
        Assert.Equal("could not open [connection string]", JournalErrorText.Clean("could not open " + Postgres.ConnectionString, Postgres));
        Assert.Equal("authentication with [password] failed", JournalErrorText.Clean("authentication with hunter2-secret failed", Postgres));
        Assert.Equal("bad setting Password=[password]; Host=x", JournalErrorText.Clean("bad setting Password=abc def; Host=x"));
        Assert.Equal("pwd=[password]", JournalErrorText.Clean("PWD='quoted secret'").ToLowerInvariant());
    }

    [Fact]
    public void The_text_is_one_line_of_bounded_length()
    {
        Assert.Equal("a b", JournalErrorText.Clean("a\tb"));
        Assert.Equal("", JournalErrorText.Clean(null));
        Assert.Equal("starts late", JournalErrorText.Clean("\n  starts late\nthen more"));
        var cut = JournalErrorText.Clean(new string('x', 1000));
        Assert.Equal(JournalErrorText.MaxLength, cut.Length);
        Assert.EndsWith("…", cut);
    }

    [Fact]
    public void The_health_stores_only_the_cleaned_message()
    {
        var health = new JournalHealth(Postgres);
        health.BatchFailed(new InvalidOperationException("28P01: password authentication failed (Password=hunter2-secret)\n\nDETAIL: row"), DateTimeOffset.UnixEpoch);
        Assert.Equal("28P01: password authentication failed (Password=[password])", health.LastError!.Message);
    }
}
