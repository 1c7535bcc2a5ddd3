using System.Diagnostics;
using System.Text.Json;

namespace AiSystem.SwarmCheck;

public sealed class AskRun(CheckOptions options)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly StackCa? _ca = options.CaFile is { } file ? new StackCa(file) : null;

    /// <summary>`history`: checks sessions asked by an earlier run (for example before the master restarted).</summary>
    private async Task<int> VerifyOnlyAsync(string input)
    {
        var (problems, historyChecked) = await History.VerifyAsync(options.Url, await History.ReadAsync(input), Log, _ca);
        foreach (var p in problems) Console.Error.WriteLine($"[{options.Label}] PROBLEM: {p}");
        Console.WriteLine(JsonSerializer.Serialize(new { label = options.Label, historyChecked, ok = problems.Count == 0 }));
        return problems.Count == 0 ? 0 : 1;
    }

    private void Log(string line) => Console.WriteLine($"[{options.Label} {_clock.Elapsed.TotalSeconds,6:0.0}s] {line}");

    public async Task<int> ExecuteAsync()
    {
        if (options.SessionsIn is { } input) return await VerifyOnlyAsync(input);
        var browsers = new List<Browser>();
        var asked = new List<(Browser Browser, string TaskId, string Query)>();
        var problems = new List<string>();
        try
        {
            for (var s = 0; s < options.Sessions; s++)
            {
                var browser = new Browser(options.Url, Log, ca: _ca);
                await browser.ConnectAsync(TimeSpan.FromSeconds(60));
                browsers.Add(browser);
            }
            for (var q = 0; q < options.Questions; q++)
            {
                var browser = browsers[q % browsers.Count];
                var query = $"{options.Label} question {q + 1} of {options.Questions}: what is {q + 1} times seven?";
                asked.Add((browser, await browser.SubmitAsync(query, TimeSpan.FromSeconds(60)), query));
            }
            Log($"asked {asked.Count} questions in {browsers.Count} sessions");
            if (options.ReadyFile is { } ready) await File.WriteAllTextAsync(ready, "asked\n");

            var deadline = DateTime.UtcNow + options.Timeout;
            var lastReport = -1;
            while (true)
            {
                var answered = asked.Count(a => a.Browser.AnswerEvents.ContainsKey(a.TaskId));
                var failed = asked.Count(a => a.Browser.Failures.ContainsKey(a.TaskId));
                if (answered != lastReport) { Log($"{answered}/{asked.Count} answered, {failed} failed"); lastReport = answered; }
                if (answered + failed == asked.Count) break;
                if (DateTime.UtcNow > deadline) { problems.Add($"{asked.Count - answered - failed} of {asked.Count} questions unanswered after {options.Timeout.TotalSeconds:0} s"); break; }
                await Task.Delay(TimeSpan.FromMilliseconds(250));
            }

            // A moment for any duplicate answer to arrive, measured against a bound, not a fixed wait.
            var settle = DateTime.UtcNow + TimeSpan.FromSeconds(3);
            while (DateTime.UtcNow < settle && asked.All(a => a.Browser.AnswerEvents.GetValueOrDefault(a.TaskId) <= 1))
                await Task.Delay(TimeSpan.FromMilliseconds(250));

            foreach (var (browser, taskId, _) in asked)
            {
                if (browser.Failures.TryGetValue(taskId, out var error)) problems.Add($"task {taskId} failed: {error}");
                var count = browser.AnswerEvents.GetValueOrDefault(taskId);
                if (count > 1) problems.Add($"task {taskId} was answered {count} times");
            }

            // Every session, resumed from a fresh connection, must hold every one of its questions with its answer.
            var sessions = browsers.Select(b => new AskedSession(b.SessionId,
                asked.Where(a => a.Browser == b).Select(a => new AskedTask(a.TaskId, a.Query)).ToList(), b.ResumeToken)).ToList();
            if (options.SessionsOut is { } file) await History.WriteAsync(file, sessions);
            var (historyProblems, historyChecked) = await History.VerifyAsync(options.Url, sessions, Log, _ca);
            problems.AddRange(historyProblems);

            foreach (var p in problems) Console.Error.WriteLine($"[{options.Label}] PROBLEM: {p}");
            var summary = new
            {
                label = options.Label,
                asked = asked.Count,
                answered = asked.Count(a => a.Browser.AnswerEvents.ContainsKey(a.TaskId)),
                duplicates = asked.Count(a => a.Browser.AnswerEvents.GetValueOrDefault(a.TaskId) > 1),
                failed = asked.Count(a => a.Browser.Failures.ContainsKey(a.TaskId)),
                historyChecked,
                reconnects = browsers.Sum(b => b.Reconnects),
                seconds = Math.Round(_clock.Elapsed.TotalSeconds, 1),
                ok = problems.Count == 0,
            };
            Console.WriteLine(JsonSerializer.Serialize(summary));
            return problems.Count == 0 ? 0 : 1;
        }
        finally
        {
            foreach (var b in browsers) await b.DisposeAsync();
        }
    }
}
