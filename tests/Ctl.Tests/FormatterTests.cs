namespace AiSystem.Ctl.Tests;

public class TableWriterTests
{
    [Fact]
    public void Pads_every_column_to_its_widest_cell_and_leaves_no_trailing_blanks()
    {
        var table = new TableWriter(["ID", "STATUS", "N"]);
        table.AddRow("a", "idle", "1");
        table.AddRow("longer-id", "busy", "");
        Assert.Equal(
        [
            "ID         STATUS  N",
            "a          idle    1",
            "longer-id  busy",
        ], table.Lines());
    }

    [Fact]
    public void Uses_the_separator_and_can_right_align()
    {
        var table = new TableWriter(separator: " | ").AlignRight(1);
        table.AddRow("x", "5", "end");
        table.AddRow("yyy", "123", "e");
        Assert.Equal(["x   |   5 | end", "yyy | 123 | e"], table.Lines());
    }

    [Fact]
    public void Makes_cells_one_line_and_harmless()
    {
        var table = new TableWriter();
        table.AddRow("a\nb", "\u001b[31mred");
        Assert.Equal(@"a\nb  ?[31mred", Assert.Single(table.Lines()));
    }

    [Fact]
    public void An_empty_table_is_its_header()
    {
        Assert.Equal(["A  B"], new TableWriter(["A", "B"]).Lines());
        Assert.Empty(new TableWriter().Lines());
    }
}

public class AgeTests
{
    [Theory]
    [InlineData(0, "0.0s")]
    [InlineData(400, "0.4s")]
    [InlineData(9_960, "9.9s")]
    [InlineData(10_000, "10s")]
    [InlineData(12_700, "12s")]
    [InlineData(59_999, "59s")]
    [InlineData(60_000, "1m")]
    [InlineData(3 * 60_000 + 59_000, "3m")]
    [InlineData(3_600_000, "1h")]
    [InlineData(26 * 3_600_000L, "1d")]
    [InlineData(-5_000, "0.0s")]
    public void Formats_short_ages(long ms, string expected) =>
        Assert.Equal(expected, Age.Format(TimeSpan.FromMilliseconds(ms)));

    [Fact]
    public void Ago_and_since()
    {
        Assert.Equal("0.4s ago", Age.Ago(Canned.Now.AddMilliseconds(-400), Canned.Now));
        Assert.Equal("-", Age.Ago(null, Canned.Now));
        Assert.Equal("12s", Age.Since(Canned.T0, Canned.Now));
        Assert.Equal("-", Age.Since(0, Canned.Now));
    }

    [Fact]
    public void Clock_time_is_in_the_given_zone_with_milliseconds()
    {
        Assert.Equal("16:13:20.123", Age.ClockTime(Canned.T0 + 123, TimeZoneInfo.Utc));
        var plus2 = TimeZoneInfo.CreateCustomTimeZone("plus2", TimeSpan.FromHours(2), "plus2", "plus2");
        Assert.Equal("18:13:20.000", Age.ClockTime(Canned.T0, plus2));
    }
}

public class ClusterShowFormatterTests
{
    [Fact]
    public void Prints_the_pbm_layout_sorted_by_address_then_the_count()
    {
        var lines = ClusterShowFormatter.Format(ApiJson.ParseCluster(Canned.Cluster));
        Assert.Equal(
        [
            "akka.tcp://ai-system@localhost:4053  | [master]     | up      | reachable   | 0.1.0",
            "akka.tcp://ai-system@localhost:40123 | [worker]     | up      | unreachable | 0.1.0",
            "akka.tcp://ai-system@node-2:5000     | [worker,gpu] | joining | reachable   | -",
            "Count: 3 nodes",
        ], lines);
    }

    [Fact]
    public void An_empty_cluster_is_a_count_of_zero()
    {
        Assert.Equal(["Count: 0 nodes"], ClusterShowFormatter.Format(ApiJson.ParseCluster(Canned.ClusterNoLeader)));
    }

    [Fact]
    public void Roles_are_bracketed_and_comma_joined()
    {
        Assert.Equal("[master]", ClusterShowFormatter.Roles(["master"]));
        Assert.Equal("[master,worker]", ClusterShowFormatter.Roles(["master", "worker"]));
        Assert.Equal("[]", ClusterShowFormatter.Roles(null));
    }
}

public class AkkaAddressComparerTests
{
    [Fact]
    public void Orders_by_host_then_numeric_port()
    {
        string[] addresses =
        [
            "akka.tcp://ai-system@localhost:40123",
            "not an address",
            "akka.tcp://ai-system@b-host:1",
            "akka.tcp://ai-system@localhost:4053",
        ];
        Assert.Equal(
        [
            "akka.tcp://ai-system@b-host:1",
            "akka.tcp://ai-system@localhost:4053",
            "akka.tcp://ai-system@localhost:40123",
            "not an address",
        ], addresses.OrderBy(a => a, AkkaAddressComparer.Instance));
    }

    [Theory]
    [InlineData("akka.tcp://ai-system@localhost:4053", true)]
    [InlineData("akka.tcp://ai-system@[::1]:4053", true)]
    [InlineData("akka://ai-system@10.0.0.5:1", true)]
    [InlineData("localhost:4053", false)]
    [InlineData("akka.tcp://localhost:4053", false)]
    [InlineData("akka.tcp://ai-system@localhost", false)]
    [InlineData("akka.tcp://ai-system@localhost:99999", false)]
    public void Recognises_member_addresses(string address, bool valid) =>
        Assert.Equal(valid, AkkaAddressComparer.TryParse(address) is not null);
}

public class WorkersAndTasksFormatterTests
{
    [Fact]
    public void Workers_table_has_slots_ages_and_a_count()
    {
        var lines = WorkersFormatter.Format(ApiJson.ParseWorkers(Canned.Workers), Canned.Now);
        Assert.Equal(
        [
            "ID                      LANGUAGE  HOST        STATUS  SLOTS  LAST SEEN  COMPLETED",
            "a-python-worker         Python    gpu-box-01  busy    1/1    3m ago     12345",
            "csharp-worker-1a2b3c4d  CSharp    node-2      idle    0/2    0.4s ago   7",
            "Count: 2 workers",
        ], lines);
    }

    [Fact]
    public void Tasks_table_keeps_the_masters_order_and_counts_states()
    {
        var lines = TasksFormatter.Format(ApiJson.ParseTasks(Canned.Tasks), Canned.Now);
        Assert.Equal(
        [
            "TASK           STATE      WORKER  ATTEMPT  POSITION  AGE",
            "9c1d2e3f-0001  in-flight  w1      1        -         12s",
            "9c1d2e3f-0002  queued     -       0        1         2.0s",
            "9c1d2e3f-0003  queued     -       0        2         2m",
            "Count: 3 tasks (2 queued, 1 in flight)",
        ], lines);
    }

    [Fact]
    public void Empty_lists_still_print_the_header_and_count()
    {
        Assert.Equal("Count: 0 workers", WorkersFormatter.Format([], Canned.Now)[^1]);
        Assert.Equal("Count: 0 tasks (0 queued, 0 in flight)", TasksFormatter.Format([], Canned.Now)[^1]);
    }
}

public class JournalFormatterTests
{
    [Fact]
    public void A_working_journal_is_one_row_and_no_error()
    {
        var lines = JournalFormatter.Format(ApiJson.ParseJournal(Canned.Journal), Canned.Now, TimeZoneInfo.Utc);
        Assert.Equal(
        [
            "STATE  PROVIDER  WHERE        LAST WRITE  FAILED BATCHES  ROWS WAITING  ROWS  BATCHES  SNAPSHOTS",
            "ok     sqlite    aisystem.db  0.4s ago    0               0             1234  567      12",
            "Last error: none",
        ], lines);
    }

    [Fact]
    public void A_failing_journal_shows_its_failed_batches_and_when_and_what_went_wrong()
    {
        var lines = JournalFormatter.Format(ApiJson.ParseJournal(Canned.JournalFailing), Canned.Now, TimeZoneInfo.Utc);
        Assert.Equal(
        [
            "STATE    PROVIDER    WHERE          LAST WRITE  FAILED BATCHES  ROWS WAITING  ROWS  BATCHES  SNAPSHOTS",
            "failing  postgresql  db-1/aisystem  3m ago      3               2             80    40       0",
            "Last error: 16:13:20.000 (12s ago) Npgsql.NpgsqlException: Failed to connect to 10.0.0.5:5432",
        ], lines);
    }

    [Fact]
    public void A_journal_that_never_wrote_says_never_and_an_error_is_one_line()
    {
        var journal = ApiJson.ParseJournal("""{"state":"ok","lastSuccessfulWrite":null,"lastError":{"type":"X","message":"two\nlines","at":null}}""");
        var lines = JournalFormatter.Format(journal, Canned.Now, TimeZoneInfo.Utc);
        Assert.StartsWith("ok     -         -      never", lines[1]);
        Assert.Equal(@"Last error: X: two\nlines", lines[2]);
    }
}

public class ClusterEventFormatterTests
{
    [Fact]
    public void One_line_per_event_with_aligned_addresses()
    {
        var up = ApiJson.ParseEvent("""{"timestamp":1764260000000,"event":"member-up","address":"akka.tcp://ai-system@localhost:40123","roles":["worker"],"status":"up"}""");
        Assert.Equal("16:13:20.000  member-up         akka.tcp://ai-system@localhost:40123  [worker]", ClusterEventFormatter.Format(up, TimeZoneInfo.Utc));

        var noLeader = ApiJson.ParseEvent("""{"timestamp":1764260000250,"event":"leader-changed","address":null}""");
        Assert.Equal("16:13:20.250  leader-changed    (no leader)", ClusterEventFormatter.Format(noLeader, TimeZoneInfo.Utc));
    }
}
