using AiSystem.Worker;

namespace AiSystem.Worker.Tests;

public class MasterEndpointsTests
{
    private static MasterEndpoints Masters(string[] reachable, params string[] unreachable) =>
        new(reachable, new HashSet<string>(unreachable, StringComparer.OrdinalIgnoreCase));

    private static IEnumerable<string> Attempts(MasterEndpoints masters, string endpoint, int count) =>
        Enumerable.Range(1, count).Select(n => masters.Target(endpoint, n));

    [Fact]
    public void The_first_attempt_goes_to_the_master_that_sent_the_task()
    {
        Assert.Equal("a:1", Masters(["b:1", "c:1"], "a:1").Target("a:1", 1));
    }

    [Fact]
    public void Without_other_masters_every_attempt_goes_to_the_same_one()
    {
        Assert.All(Attempts(MasterEndpoints.None, "a:1", 5), t => Assert.Equal("a:1", t));
        Assert.All(Attempts(Masters(["a:1"]), "a:1", 5), t => Assert.Equal("a:1", t));
    }

    [Fact]
    public void While_that_master_is_unreachable_retries_go_round_the_others_only()
    {
        Assert.Equal(["a:1", "b:1", "c:1", "b:1", "c:1"], Attempts(Masters(["b:1", "c:1"], "A:1"), "a:1", 5));
    }

    [Fact]
    public void Otherwise_retries_alternate_between_another_master_and_that_one()
    {
        // Reachable, or not a member at all (restarting on its address, or outside the cluster): it may answer again.
        Assert.Equal(["a:1", "b:1", "a:1", "c:1", "a:1", "b:1"], Attempts(Masters(["a:1", "b:1", "c:1"]), "a:1", 6));
        Assert.Equal(["a:1", "b:1", "a:1", "b:1"], Attempts(Masters(["b:1"]), "a:1", 4));
    }
}

/// <summary>A task's answer goes only to a master this worker knows (issue 14).</summary>
public class TaskOriginTests
{
    private sealed class Directory(params string[] members) : IMasterDirectory
    {
        public MasterEndpoints Current() => MasterEndpoints.None with { Members = new HashSet<string>(members, StringComparer.OrdinalIgnoreCase) };
    }

    [Fact]
    public void A_task_of_a_master_of_the_cluster_is_taken_whatever_that_masters_state() =>
        Assert.Null(new TaskOrigin(new Directory("master-a:50051", "master-b:50051"), []).Refusal("MASTER-B:50051"));

    [Fact]
    public void A_task_naming_a_stranger_is_refused_with_the_endpoints_the_worker_knows()
    {
        var refusal = new TaskOrigin(new Directory("master-a:50051"), ["10.0.0.9:50051"]).Refusal("evil.example:443");
        Assert.NotNull(refusal);
        Assert.Contains("evil.example:443", refusal);
        Assert.Contains("master-a:50051", refusal);
        Assert.Contains("10.0.0.9:50051", refusal);
    }

    [Fact]
    public void A_configured_master_outside_the_cluster_is_taken() =>
        Assert.Null(new TaskOrigin(new Directory(), ["10.0.0.9:50051"]).Refusal("10.0.0.9:50051"));

    [Fact]
    public void A_worker_that_knows_no_master_has_nothing_to_check_against() =>
        Assert.Null(new TaskOrigin(new Directory(), []).Refusal("anywhere:1"));
}
