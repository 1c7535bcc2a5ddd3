using AiSystem.Master.Security;

namespace AiSystem.Master.Tests;

/// <summary>One secret for a test run: what every master of a cluster shares.</summary>
public static class TestKeys
{
    public static readonly MasterKeys Shared = MasterKeys.Random();

    /// <summary>The session_id a worker echoes for <paramref name="taskId"/> assigned to <paramref name="workerId"/>.</summary>
    public static string Alias(string taskId, string workerId) => Shared.SessionAlias(taskId, workerId);
}
