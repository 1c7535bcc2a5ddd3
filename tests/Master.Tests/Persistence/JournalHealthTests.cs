using AiSystem.Master.Persistence;

namespace AiSystem.Master.Tests.Persistence;

/// <summary>When the journal counts as failing: what refuses questions and what readiness reports.</summary>
public class JournalHealthTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(3);

    [Fact]
    public void A_journal_that_never_failed_is_not_failing()
    {
        var health = new JournalHealth();
        Assert.False(health.LastAttemptFailed);
        Assert.False(health.IsFailing(T0, Window));
    }

    [Fact]
    public void A_failed_batch_counts_within_the_window_and_is_not_trusted_after_it()
    {
        var health = new JournalHealth();
        health.BatchCommitted(T0, 1);
        health.BatchFailed(new InvalidOperationException("down"), T0.AddSeconds(1));
        Assert.True(health.LastAttemptFailed);
        Assert.True(health.IsFailing(T0.AddSeconds(2), Window));
        Assert.False(health.IsFailing(T0.AddSeconds(5), Window)); // older news: the next write tries again
        Assert.True(health.LastAttemptFailed);
    }

    [Fact]
    public void A_commit_or_a_probe_after_the_failure_ends_it_even_in_the_same_millisecond()
    {
        var health = new JournalHealth();
        health.BatchFailed(new InvalidOperationException("down"), T0);
        health.BatchCommitted(T0, 1);
        Assert.False(health.LastAttemptFailed);

        health.Failed(new InvalidOperationException("read failed"), T0);
        Assert.True(health.IsFailing(T0, Window));
        health.ProbeSucceeded(T0);
        Assert.False(health.IsFailing(T0, Window));
    }

    [Fact]
    public void A_write_conflict_is_not_an_outage()
    {
        var health = new JournalHealth();
        health.Failed(new InvalidOperationException("sequence conflict"), T0, outage: false);
        Assert.False(health.LastAttemptFailed);
        Assert.NotNull(health.LastError);
    }
}
