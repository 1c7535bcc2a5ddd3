using System.Collections.Concurrent;

namespace AiSystem.Integration.Tests.Infrastructure;

/// <summary>Which browser asked what, so a test can check that every question got exactly one answer, in its own session.</summary>
public sealed class Ledger
{
    private readonly ConcurrentDictionary<string, (ChatClient Client, string Query)> _asked = new();

    public int Count => _asked.Count;

    public async Task<string> AskAsync(ChatClient client, string query)
    {
        var reply = await client.SubmitAsync(query);
        var taskId = reply.Str("taskId");
        Assert.True(_asked.TryAdd(taskId, (client, query)), $"task id {taskId} given twice");
        return taskId;
    }

    public int Answered(IEnumerable<ChatClient> clients) =>
        clients.SelectMany(c => c.Answers).Select(a => a.Str("taskId")).Distinct().Count();

    public string Summary(IEnumerable<ChatClient> clients)
    {
        var answered = clients.SelectMany(c => c.Answers).Select(a => a.Str("taskId")).ToHashSet();
        var missing = _asked.Keys.Where(id => !answered.Contains(id)).ToList();
        var failures = clients.SelectMany(c => c.Payloads("TaskFailed")).Select(f => f.GetRawText()).ToList();
        return $"{answered.Count}/{_asked.Count} answered; missing: {string.Join(", ", missing.Take(10))}; failures: {string.Join(" ", failures.Take(5))}";
    }

    /// <summary>Every question answered exactly once, by an answer to that very question, in the session that asked it.</summary>
    public void AssertEachAnsweredExactlyOnce(IReadOnlyCollection<ChatClient> clients)
    {
        foreach (var client in clients)
        {
            Assert.Empty(client.Payloads("TaskFailed"));
            var answers = client.Answers;
            foreach (var group in answers.GroupBy(a => a.Str("taskId")))
            {
                Assert.True(group.Count() == 1, $"task {group.Key} was answered {group.Count()} times");
                Assert.True(_asked.TryGetValue(group.Key, out var asked), $"an answer for unknown task {group.Key}");
                Assert.Same(client, asked.Client);
                Assert.Equal(asked.Query, group.Single().Str("query"));
                Assert.Contains(asked.Query, group.Single().Str("response"));
            }
        }
        Assert.Equal(_asked.Count, Answered(clients));
    }
}
