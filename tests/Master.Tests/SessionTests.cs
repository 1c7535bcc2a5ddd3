using AiSystem.Master.Sessions;

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

    private static TaskOutcome Outcome(string taskId, string? answer, string? error = null) =>
        new(taskId, answer, error, true, "w", "simulated", 5, 99);

    private static SessionState With(SessionState state, params ISessionEvent?[] events)
    {
        foreach (var e in events) state.Apply(e!);
        return state;
    }

    [Fact]
    public void A_session_keeps_exactly_one_outcome_per_question()
    {
        var state = new SessionState();
        With(state, state.Ask("t1", "q1", 1), state.Ask("t2", "q2", 2));
        Assert.Equal(2, state.OpenCount);
        Assert.Null(state.Ask("t1", "again", 3)); // the same task id is the same question

        var answered = state.Record(Outcome("t2", "a2"));
        Assert.IsType<QuestionAnswered>(answered);
        state.Apply(answered!);
        Assert.Null(state.Record(Outcome("t2", "again")));
        state.Apply(state.Record(Outcome("t1", null, "quota"))!);

        Assert.Equal(["t1", "t2"], state.Questions.Select(q => q.TaskId));
        Assert.Equal("a2", state.Find("t2")!.Answer);
        Assert.Equal(("quota", true), (state.Find("t1")!.Error, state.Find("t1")!.Retryable));
        Assert.Equal(0, state.OpenCount);
    }

    [Fact]
    public void An_outcome_for_a_question_the_session_never_stored_is_not_recorded()
    {
        var state = new SessionState();
        Assert.Null(state.Record(Outcome("t9", "fast")));
        Assert.Empty(state.Questions);
    }

    [Fact]
    public void Applying_an_event_twice_changes_nothing()
    {
        var state = new SessionState();
        var asked = state.Ask("t1", "q1", 1)!;
        var answered = new QuestionAnswered("t1", "a1", "w", "simulated", 3, 4);
        With(state, asked, asked, answered, answered, new QuestionFailed("t1", "late", true, null, 5));
        var q = Assert.Single(state.Questions);
        Assert.Equal(("a1", null), (q.Answer, q.Error));
    }

    [Fact]
    public void Retention_drops_the_oldest_finished_questions_and_keeps_the_open_ones()
    {
        var state = new SessionState(maxQuestions: 3);
        With(state, state.Ask("t1", "q1", 1)); // open: kept
        With(state, state.Ask("t2", "q2", 2));
        With(state, state.Record(Outcome("t2", "a2")));
        With(state, state.Ask("t3", "q3", 3));
        With(state, state.Record(Outcome("t3", "a3")));
        With(state, state.Ask("t4", "q4", 4));

        Assert.Equal(["t1", "t3", "t4"], state.Questions.Select(q => q.TaskId));
        Assert.Null(state.Find("t2"));
    }

    [Fact]
    public void A_snapshot_restores_the_same_questions()
    {
        var state = new SessionState();
        With(state, state.Ask("t1", "q1", 1), state.Ask("t2", "q2", 2));
        With(state, state.Record(Outcome("t1", "a1")));
        var again = new SessionState();
        again.Restore(state.ToSnapshot());
        Assert.Equal(state.Questions, again.Questions);
        Assert.Equal(1, again.OpenCount);
    }

    [Theory]
    [InlineData("3f2b8c1e-6d4a-4b7e-9a15-2c8d0e6f4a91", true)]
    [InlineData("3f2b8c1e6d4a4b7e9a152c8d0e6f4a91", false)]
    [InlineData("../../etc", false)]
    [InlineData("", false)]
    public void Task_ids_from_the_page_must_be_uuids(string id, bool valid) => Assert.Equal(valid, TaskIds.IsValid(id));

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
