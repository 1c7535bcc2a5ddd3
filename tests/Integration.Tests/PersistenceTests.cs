using System.Text.Json;
using AiSystem.Integration.Tests.Infrastructure;

namespace AiSystem.Integration.Tests;

/// <summary>
/// Durable: the only master is killed (SIGKILL) while 30 questions are queued or in flight, and started again on
/// the same journal: every question is answered exactly once and every session's history is intact. Once with
/// the embedded SQLite journal, once with PostgreSQL.
/// </summary>
public sealed class PersistenceTests : IAsyncLifetime
{
    private Mosquitto _broker = null!;
    private MasterProcess? _master;
    private Postgres? _postgres;
    private readonly List<ChildProcess> _workers = [];
    private readonly List<ChatClient> _browsers = [];

    public async Task InitializeAsync() => _broker = await Mosquitto.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var b in _browsers) await b.DisposeAsync();
        foreach (var w in _workers) await w.DisposeAsync();
        if (_master is not null) await _master.DisposeAsync();
        if (_postgres is not null) await _postgres.DisposeAsync();
        await _broker.DisposeAsync();
    }

    private string Diagnostics() => string.Join('\n', _workers.Select(w => w.Tail(8)).Append(_master!.Process.Tail(40)));

    [Fact]
    public Task A_killed_master_restarted_on_its_SQLite_journal_answers_every_question_exactly_once() =>
        KillAndRestartAsync(new Dictionary<string, string?>());

    [Fact]
    public async Task A_killed_master_restarted_on_its_PostgreSQL_journal_answers_every_question_exactly_once()
    {
        _postgres = await Postgres.StartAsync();
        await KillAndRestartAsync(new Dictionary<string, string?>
        {
            ["Persistence__Provider"] = "postgresql",
            ["Persistence__ConnectionString"] = _postgres.ConnectionString,
        });
    }

    private async Task KillAndRestartAsync(Dictionary<string, string?> settings)
    {
        _master = await MasterProcess.StartAsync(_broker, localWorkers: 0, settings);
        foreach (var id in new[] { "durable-1", "durable-2" })
            _workers.Add(_master.StartWorker(id, new Dictionary<string, string?> { ["Worker__SimulatedDelay"] = "00:00:02", ["Worker__Capacity"] = "2" }));
        await _master.WaitForWorkersAsync(2);

        // 5 sessions x 6 questions; 4 slots: most wait in the queue when the master dies.
        var before = new List<ChatClient>();
        for (var i = 0; i < 5; i++) before.Add(await ChatClient.ConnectAsync(_master.BaseUrl));
        var asked = new Dictionary<string, (string Session, string Query)>();
        for (var q = 0; q < 6; q++)
            foreach (var b in before)
            {
                var query = $"Durable question {q} of {b.SessionId[..8]}";
                asked[(await b.SubmitAsync(query)).Str("taskId")] = (b.SessionId, query);
            }
        await Poll.UntilAsync(() => before.Sum(b => b.Answers.Count) >= 2, TimeSpan.FromSeconds(30), "the first answers", Diagnostics);

        _master.Process.Kill();
        await _master.Process.WaitForExitAsync(TimeSpan.FromSeconds(10));
        var seenBefore = before.SelectMany(b => b.Answers).Select(a => a.Str("taskId")).ToList();
        foreach (var b in before) await b.DisposeAsync();
        Assert.True(seenBefore.Count < 30, "the master died too late: everything was answered already");

        await _master.StartAgainAsync();
        var after = new List<ChatClient>();
        foreach (var b in before) after.Add(await ChatClient.ConnectAsync(_master.BaseUrl, b.SessionId));
        _browsers.AddRange(after);
        Assert.All(after, a => Assert.True(a.Started.GetProperty("resumed").GetBoolean()));
        var inHistoryAtResume = after.SelectMany(a => a.Started.GetProperty("history").EnumerateArray())
            .Where(i => i.GetProperty("response").ValueKind == JsonValueKind.String).Select(i => i.Str("taskId")).ToHashSet();

        await Poll.UntilAsync(() => inHistoryAtResume.Union(after.SelectMany(a => a.Answers).Select(x => x.Str("taskId"))).Count() == 30,
            TimeSpan.FromSeconds(120), "all 30 answers after the restart", Diagnostics);

        // Exactly once: nothing answered live before the crash is answered live again, nothing in the history at resume is pushed again.
        var liveAfter = after.SelectMany(a => a.Answers).Select(x => x.Str("taskId")).ToList();
        Assert.Equal(liveAfter.Count, liveAfter.Distinct().Count());
        Assert.Empty(liveAfter.Intersect(seenBefore));
        Assert.Empty(liveAfter.Intersect(inHistoryAtResume));
        Assert.All(after, a => Assert.Empty(a.Payloads("TaskFailed")));

        // Every session's history is whole: its six questions, each with the answer to that very question.
        foreach (var b in before)
        {
            await using var again = await ChatClient.ConnectAsync(_master.BaseUrl, b.SessionId);
            var history = again.Started.GetProperty("history").EnumerateArray().ToList();
            var mine = asked.Where(a => a.Value.Session == b.SessionId).ToList();
            Assert.Equal(mine.Select(m => m.Key).Order(), history.Select(h => h.Str("taskId")).Order());
            foreach (var h in history)
                Assert.Contains(asked[h.Str("taskId")].Query, h.Str("response"));
        }
    }
}
