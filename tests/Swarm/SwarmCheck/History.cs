using System.Text.Json;

namespace AiSystem.SwarmCheck;

/// <summary>What a run asked in one session, written to a file so that a later step can check it survived.</summary>
public sealed record AskedSession(string SessionId, List<AskedTask> Tasks, string ResumeToken = "");
public sealed record AskedTask(string TaskId, string Query);

public static class History
{
    /// <summary>
    /// Opens each session again from a fresh connection (a reload of the page) and checks that it is resumed and
    /// that its history holds every question asked, once, with its answer. Returns the problems found.
    /// </summary>
    public static async Task<(List<string> Problems, int Checked)> VerifyAsync(string url, IEnumerable<AskedSession> sessions, Action<string> log, StackCa? ca = null)
    {
        var problems = new List<string>();
        var checkedItems = 0;
        foreach (var session in sessions)
        {
            await using var browser = new Browser(url, log, session.SessionId, session.ResumeToken, ca);
            await browser.ConnectAsync(TimeSpan.FromMinutes(2));
            var started = browser.LastStarted;
            if (!started.GetProperty("resumed").GetBoolean()) problems.Add($"session {session.SessionId} did not resume");
            var history = started.GetProperty("history").EnumerateArray()
                .GroupBy(i => i.GetProperty("taskId").GetString()!)
                .ToDictionary(g => g.Key, g => g.ToList());
            foreach (var task in session.Tasks)
            {
                if (!history.TryGetValue(task.TaskId, out var items)) { problems.Add($"session {session.SessionId}: history lacks task {task.TaskId}"); continue; }
                if (items.Count != 1) problems.Add($"session {session.SessionId}: history has task {task.TaskId} {items.Count} times");
                var item = items[0];
                if (item.GetProperty("query").GetString() != task.Query) problems.Add($"task {task.TaskId}: history has another question");
                if (!(item.TryGetProperty("response", out var r) && r.ValueKind == JsonValueKind.String && r.GetString()!.Length > 0))
                    problems.Add($"task {task.TaskId}: history has no answer");
                checkedItems++;
            }
        }
        return (problems, checkedItems);
    }

    public static async Task WriteAsync(string path, IEnumerable<AskedSession> sessions) =>
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(sessions));

    public static async Task<List<AskedSession>> ReadAsync(string path) =>
        JsonSerializer.Deserialize<List<AskedSession>>(await File.ReadAllTextAsync(path)) ?? throw new ArgumentException($"{path} holds no sessions");
}
