namespace AiSystem.Integration.Tests.Infrastructure;

/// <summary>Waiting in tests: poll a condition until a deadline, never a fixed sleep.</summary>
public static class Poll
{
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, Func<string>? diagnostics = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await condition()) return;
                last = null;
            }
            catch (Exception e)
            {
                last = e;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}." +
            (last is null ? "" : $" Last error: {last.Message}") + (diagnostics is null ? "" : "\n" + diagnostics()));
    }

    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what, Func<string>? diagnostics = null) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, what, diagnostics);
}
