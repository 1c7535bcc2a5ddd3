using AiSystem.Master.Sessions;
using AiSystem.Messages.Grpc;

namespace AiSystem.Master.Tests;

public class SessionTests
{
    [Theory]
    [InlineData(null, "empty")]
    [InlineData("", "empty")]
    [InlineData("   \n\t ", "empty")]
    [InlineData("0123456789X", "too long")]
    public void Bad_questions_are_refused_with_what_to_do(string? query, string expected)
    {
        var error = new QueryValidator(maxQueryChars: 10).Validate(query);
        Assert.NotNull(error);
        Assert.Contains(expected, error);
    }

    [Fact]
    public void A_question_at_the_limit_is_accepted() => Assert.Null(new QueryValidator(10).Validate("0123456789"));

    private static AiSystem.Master.Dispatch.TaskOutcome Outcome(string taskId, string? response, string? error = null) =>
        new(taskId, "s", "q-" + taskId, response, error, true, "w", "simulated", 5, 99);

    [Fact]
    public void History_keeps_exactly_one_outcome_per_task()
    {
        var history = new SessionHistory();
        history.Add("t1", "q1", 1);
        history.Add("t2", "q2", 2);
        Assert.Equal(2, history.Pending);

        Assert.True(history.Record(Outcome("t2", "a2")));
        Assert.False(history.Record(Outcome("t2", "again")));
        Assert.True(history.Record(Outcome("t1", null, "quota")));

        Assert.Equal(["t1", "t2"], history.Items.Select(i => i.TaskId));
        Assert.Equal("a2", history.Find("t2")!.Response);
        Assert.Equal(("quota", true), (history.Find("t1")!.Error, history.Find("t1")!.Retryable));
        Assert.Equal(0, history.Pending);
    }

    [Fact]
    public void An_outcome_that_arrives_before_its_question_is_stored_is_kept_with_its_query()
    {
        var history = new SessionHistory();
        Assert.True(history.Record(Outcome("t9", "fast")));
        Assert.False(history.Add("t9", "q-t9", 1)); // the question arriving later adds nothing
        var item = Assert.Single(history.Items);
        Assert.Equal(("q-t9", "fast"), (item.Query, item.Response));
    }

    [Fact]
    public void Retention_drops_the_oldest_finished_items_and_keeps_what_is_pending()
    {
        var history = new SessionHistory(maxItems: 3);
        history.Add("t1", "q1", 1);           // pending: kept
        history.Add("t2", "q2", 2);
        history.Record(Outcome("t2", "a2"));
        history.Add("t3", "q3", 3);
        history.Record(Outcome("t3", "a3"));
        history.Add("t4", "q4", 4);

        Assert.Equal(["t1", "t3", "t4"], history.Items.Select(i => i.TaskId));
    }

    [Theory]
    [InlineData("550e8400-e29b-41d4-a716-446655440000", true)]
    [InlineData("not-a-session", false)]
    [InlineData("../../etc", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Only_master_made_session_ids_are_valid(string? id, bool valid) => Assert.Equal(valid, SessionIds.IsValid(id));
}

public class AdminTokenTests
{
    [Theory]
    [InlineData("", null, true)]
    [InlineData("", "Bearer anything", true)]
    [InlineData("s3cret", null, false)]
    [InlineData("s3cret", "Bearer s3cret", true)]
    [InlineData("s3cret", "bearer s3cret", true)]
    [InlineData("s3cret", "Bearer s3cret2", false)]
    [InlineData("s3cret", "Bearer ", false)]
    [InlineData("s3cret", "Basic s3cret", false)]
    [InlineData("s3cret", "s3cret", false)]
    public void The_admin_token_is_required_only_when_configured(string configured, string? header, bool allowed) =>
        Assert.Equal(allowed, AiSystem.Master.Api.AdminToken.Allows(configured, header));
}

public class AkkaOptionsTests
{
    [Fact]
    public void A_master_seeds_itself_and_a_worker_seeds_the_local_master_by_default()
    {
        var options = new AiSystem.Messages.Cluster.AkkaOptions { Hostname = "master-1" };
        Assert.Equal(["akka.tcp://ai-system@master-1:4053"], options.EffectiveSeedNodes("master"));
        Assert.Equal(["akka.tcp://ai-system@localhost:4053"], options.EffectiveSeedNodes("worker"));
        Assert.Equal((4053, 0), (options.EffectivePort("master"), options.EffectivePort("worker")));
    }

    [Fact]
    public void Seed_nodes_are_a_comma_separated_list_and_a_bad_one_is_named()
    {
        var options = new AiSystem.Messages.Cluster.AkkaOptions { SeedNodes = "akka.tcp://ai-system@a:4053, akka.tcp://ai-system@b:4053" };
        Assert.Equal(2, options.EffectiveSeedNodes("worker").Count);
        Assert.Null(options.Validate());
        var bad = new AiSystem.Messages.Cluster.AkkaOptions { SeedNodes = "master:4053" };
        Assert.Contains("master:4053", bad.Validate());
    }
}
