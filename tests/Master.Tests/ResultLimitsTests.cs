using AiSystem.Master.Grpc;
using AiSystem.Messages.Grpc;

namespace AiSystem.Master.Tests;

public class ResultLimitsTests
{
    [Fact]
    public void A_key_request_needs_all_three_ids_within_their_bound()
    {
        Assert.Null(ResultLimits.Check(new KeyRequest { TaskId = "t", WorkerId = "w", SessionId = "alias" }));
        Assert.Contains("session_id", ResultLimits.Check(new KeyRequest { TaskId = "t", WorkerId = "w" }));
        Assert.Contains("at most 128", ResultLimits.Check(new KeyRequest { TaskId = new string('t', 129), WorkerId = "w", SessionId = "a" }));
    }
}
