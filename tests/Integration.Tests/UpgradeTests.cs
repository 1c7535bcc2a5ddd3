using System.Text.Json;
using AiSystem.Integration.Tests.Infrastructure;

namespace AiSystem.Integration.Tests;

/// <summary>
/// A journal written by version 0.1.0 (tests/fixtures/journal/aisystem-0.1.0.db: Akka.Persistence.Sql, Newtonsoft
/// JSON with CLR type names; three sessions: one with 120 answered questions and two snapshots, one with 4 answered,
/// one with a question still open when that master was killed) opened by this version: every conversation comes
/// back whole, the open question is answered, and new questions go after the old ones.
/// </summary>
public sealed class UpgradeTests : IAsyncLifetime
{
    private const string Long = "471ca253-ccfa-4b9d-a2e6-0d2bef9d3855";
    private const string Short = "f25913eb-0365-428a-b82a-e3d5788d4000";
    private const string Open = "b70cab27-fcc6-42c2-833a-1a5d87cda3a9";

    private string _dir = "";
    private MasterProcess? _master;
    private readonly List<ChatClient> _browsers = [];

    public Task InitializeAsync()
    {
        _dir = Directory.CreateTempSubdirectory("aisystem-upgrade-").FullName;
        File.Copy(Path.Combine(AppContext.BaseDirectory, "fixtures", "journal", "aisystem-0.1.0.db"), Path.Combine(_dir, "old.db"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var b in _browsers) await b.DisposeAsync();
        if (_master is not null) await _master.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>
    /// Resumes with the session's token. Version 0.1.0 had no resume tokens, so its pages hold only the ids, which no
    /// longer open a session (README, Security): here the token is made from the secret the master keeps in the journal.
    /// </summary>
    private string Token(string sessionId) => AiSystem.Master.Security.MasterKeyStore.Load(null,
        new AiSystem.Master.Persistence.JournalConnection(AiSystem.Master.Persistence.JournalProvider.Sqlite, $"Data Source={Path.Combine(_dir, "old.db")}"),
        _ => { }, TimeSpan.FromSeconds(10)).ResumeToken(sessionId);

    private async Task<ChatClient> Resume(string sessionId)
    {
        var client = await ChatClient.ConnectAsync(_master!.BaseUrl, sessionId, Token(sessionId));
        _browsers.Add(client);
        return client;
    }

    private static List<JsonElement> History(ChatClient c) => [.. c.Started.GetProperty("history").EnumerateArray()];

    [Fact]
    public async Task A_journal_of_version_0_1_0_opens_with_every_conversation_and_its_open_question_is_answered()
    {
        _master = await MasterProcess.StartAsync(null, localWorkers: 1, new Dictionary<string, string?>
        {
            ["Persistence__ConnectionString"] = $"Data Source={Path.Combine(_dir, "old.db")}",
        });

        var longer = await Resume(Long);
        Assert.True(longer.Started.GetProperty("resumed").GetBoolean());
        var items = History(longer);
        Assert.Equal(120, items.Count); // from its snapshot at event 200 and the 40 events after it
        Assert.Equal([.. Enumerable.Range(0, 60).Select(i => $"warm-up {i}"), .. Enumerable.Range(0, 60).Select(i => $"latency question {i}")],
            items.Select(i => i.Str("query")));
        Assert.All(items, i => Assert.Contains(i.Str("query"), i.Str("response")));

        var shorter = await Resume(Short);
        Assert.Equal(4, History(shorter).Count);
        Assert.All(History(shorter), i => Assert.Equal(JsonValueKind.String, i.GetProperty("response").ValueKind));

        // The question left open by the old master is found (every session of an old journal is asked) and answered.
        await Poll.UntilAsync(async () =>
        {
            await using var look = await ChatClient.ConnectAsync(_master.BaseUrl, Open, Token(Open));
            return History(look) is [var only] && only.TryGetProperty("response", out var r) && r.ValueKind == JsonValueKind.String;
        }, TimeSpan.FromSeconds(60), "the open question of the old journal answered", () => _master.Process.Tail(30));

        // The old session goes on: a new question is stored after the old ones.
        var reply = await shorter.SubmitAsync("A question after the upgrade");
        await Poll.UntilAsync(() => shorter.Answers.Any(a => a.Str("taskId") == reply.Str("taskId")), TimeSpan.FromSeconds(30), "the new answer");
        await using var again = await ChatClient.ConnectAsync(_master.BaseUrl, Short, Token(Short));
        Assert.Equal(5, History(again).Count);
        Assert.Equal("A question after the upgrade", History(again)[^1].Str("query"));
    }
}
