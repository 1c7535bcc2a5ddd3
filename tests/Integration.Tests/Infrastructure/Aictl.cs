namespace AiSystem.Integration.Tests.Infrastructure;

/// <summary>Runs the real <c>aictl</c> (src/Ctl, as built) as a process, the way an operator would.</summary>
public static class Aictl
{
    public sealed record Result(int ExitCode, string Output)
    {
        public string[] Lines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    public static async Task<Result> RunAsync(params string[] args)
    {
        await using var process = ChildProcess.Start("aictl", "dotnet", [Repo.Dll("Ctl"), .. args], Repo.Root);
        if (!await process.WaitForExitAsync(TimeSpan.FromSeconds(60)))
            throw new TimeoutException($"aictl {string.Join(' ', args)} did not finish\n{process.Tail()}");
        await process.WaitForOutputAsync();
        return new Result(process.ExitCode, process.Output);
    }

    /// <summary>Starts a long-running aictl (e.g. <c>cluster tail</c>); the caller stops it.</summary>
    public static ChildProcess Start(params string[] args) => ChildProcess.Start("aictl", "dotnet", [Repo.Dll("Ctl"), .. args], Repo.Root);
}
