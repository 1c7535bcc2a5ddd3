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

    [Fact]
    public void History_keeps_exactly_one_outcome_per_task()
    {
        var history = new SessionHistory();
        history.Add("t1", "q1", 1);
        history.Add("t2", "q2", 2);
        Assert.Equal(2, history.Pending);

        Assert.True(history.Complete("t2", new TaskResult { AiResponse = "a2", WorkerId = "w", ProcessingTimeMs = 5, Provider = "simulated" }));
        Assert.False(history.Complete("t2", new TaskResult { AiResponse = "again" }));
        Assert.False(history.Complete("unknown", new TaskResult { AiResponse = "x" }));
        Assert.True(history.Complete("t1", new TaskResult { Error = "quota" }));

        Assert.Equal(["t1", "t2"], history.Items.Select(i => i.TaskId));
        Assert.Equal("a2", history.Find("t2")!.Response);
        Assert.Equal("quota", history.Find("t1")!.Error);
        Assert.Equal(0, history.Pending);
    }

    [Fact]
    public void Removing_a_refused_question_keeps_the_others_findable()
    {
        var history = new SessionHistory();
        history.Add("t1", "q1", 1);
        history.Add("t2", "q2", 2);
        history.Add("t3", "q3", 3);
        history.Remove("t2");
        Assert.Equal(["t1", "t3"], history.Items.Select(i => i.TaskId));
        Assert.Equal("q3", history.Find("t3")!.Query);
    }

    [Theory]
    [InlineData("550e8400-e29b-41d4-a716-446655440000", true)]
    [InlineData("not-a-session", false)]
    [InlineData("../../etc", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Only_master_made_session_ids_are_valid(string? id, bool valid) => Assert.Equal(valid, SessionIds.IsValid(id));
}
