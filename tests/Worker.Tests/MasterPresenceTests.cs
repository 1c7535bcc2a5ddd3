using Akka.Actor;

namespace AiSystem.Worker.Tests;

public class MasterPresenceTests
{
    private static readonly Address Master = new("akka.tcp", "ai-system", "master", 4053);
    private static readonly Address OtherMaster = new("akka.tcp", "ai-system", "master-2", 4053);
    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public void A_worker_that_never_joined_has_no_reason_to_restart()
    {
        var p = new MasterPresence(Patience);
        p.SelfOut();
        Assert.Null(p.ReasonToRestart(T0.AddHours(1)));
    }

    [Fact]
    public void All_masters_gone_for_the_patience_means_restart_and_not_before()
    {
        var p = new MasterPresence(Patience);
        p.SelfUp(T0);
        p.MasterUp(Master, T0);
        p.MasterGone(Master, T0.AddSeconds(10));
        Assert.Null(p.ReasonToRestart(T0.AddSeconds(39)));
        Assert.Contains("no reachable master for 30 s", p.ReasonToRestart(T0.AddSeconds(40)));
    }

    [Fact]
    public void A_master_coming_back_in_time_cancels_the_restart()
    {
        var p = new MasterPresence(Patience);
        p.SelfUp(T0);
        p.MasterGone(Master, T0);
        p.MasterUp(OtherMaster, T0.AddSeconds(20));
        Assert.Null(p.ReasonToRestart(T0.AddMinutes(5)));
    }

    [Fact]
    public void An_unreachable_master_counts_as_absent_until_it_is_reachable_again()
    {
        var p = new MasterPresence(Patience);
        p.SelfUp(T0);
        p.MasterUp(Master, T0);
        p.Unreachable(Master, T0);
        Assert.NotNull(p.ReasonToRestart(T0.AddSeconds(30)));
        p.Reachable(Master, T0.AddSeconds(31));
        Assert.Null(p.ReasonToRestart(T0.AddMinutes(5)));
    }

    [Fact]
    public void One_reachable_master_of_two_is_enough()
    {
        var p = new MasterPresence(Patience);
        p.SelfUp(T0);
        p.MasterUp(Master, T0);
        p.MasterUp(OtherMaster, T0);
        p.Unreachable(Master, T0);
        Assert.Null(p.ReasonToRestart(T0.AddMinutes(5)));
    }

    [Fact]
    public void Removed_from_the_cluster_means_restart_at_once()
    {
        var p = new MasterPresence(Patience);
        p.SelfUp(T0);
        p.MasterUp(Master, T0);
        p.SelfOut();
        Assert.Equal("this worker was removed from the cluster", p.ReasonToRestart(T0));
    }
}
