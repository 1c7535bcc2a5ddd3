using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace AiSystem.Integration.Tests.Infrastructure;

/// <summary>
/// A real process started by a test: output captured, stopped (by pid, whole tree) on dispose. A test whose setup
/// failed half way (xUnit then skips its DisposeAsync) must not leave processes behind: whatever is still running when
/// the test host exits is killed then.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<int, Process> Running = new();

    static ChildProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var p in Running.Values)
        {
            try { if (!p.HasExited) p.Kill(entireProcessTree: true); } catch (Exception) { /* gone already */ }
        }
    };

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    public string Name { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public static ChildProcess Start(string name, string fileName, IEnumerable<string> args, string workingDirectory,
        IDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        // Children must not inherit the test host's own settings.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(key);
        info.Environment["DOTNET_NOLOGO"] = "1";
        if (environment is not null)
            foreach (var (k, v) in environment) info.Environment[k] = v;

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(name, process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) child._output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) child._output.Enqueue(e.Data); };
        process.Start();
        Running[process.Id] = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>A .NET app of this repo, from its build output, with its project folder as content root.</summary>
    public static ChildProcess StartApp(string name, string project, IDictionary<string, string?> environment) =>
        Start(name, "dotnet", [Repo.Dll(project)], Repo.ProjectDir(project), environment);

    public string Output
    {
        get
        {
            var sb = new StringBuilder();
            foreach (var line in _output) sb.AppendLine(line);
            return sb.ToString();
        }
    }

    public string Tail(int lines = 40) =>
        $"--- last output of {Name} (pid {Pid}{(HasExited ? $", exited {_process.ExitCode}" : "")}) ---\n" +
        string.Join('\n', _output.TakeLast(lines));

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    /// <summary>Freezes the process (SIGSTOP): its sockets stay open, it does nothing.</summary>
    public void Freeze() => Signal(19);

    /// <summary>Resumes a frozen process (SIGCONT).</summary>
    public void Resume() => Signal(18);

    /// <summary>Asks the process to shut down (SIGTERM), as Docker or systemd would.</summary>
    public void Terminate() => Signal(15);

    /// <summary>Kills the process outright (SIGKILL): no goodbye, no cleanup.</summary>
    public void Kill() => Signal(9);

    private void Signal(int signal)
    {
        if (kill(Pid, signal) != 0)
            throw new InvalidOperationException($"kill({Pid}, {signal}) failed: errno {Marshal.GetLastWin32Error()}");
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cts.Token); return true; }
        catch (OperationCanceledException) { return false; }
    }

    public int ExitCode => _process.ExitCode;

    /// <summary>After exit: waits until the redirected output has been read to its end.</summary>
    public Task WaitForOutputAsync() => _process.WaitForExitAsync();

    /// <summary>How many output lines contain <paramref name="text"/>.</summary>
    public int CountLines(string text) => _output.Count(l => l.Contains(text, StringComparison.Ordinal));

    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { await _process.WaitForExitAsync(timeout.Token); } catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Running.TryRemove(_process.Id, out _);
        _process.Dispose();
    }
}
