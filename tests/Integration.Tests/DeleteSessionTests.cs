using System.Net.Http.Json;
using System.Text.Json;
using AiSystem.Integration.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace AiSystem.Integration.Tests;

/// <summary>
/// A user deletes a conversation (hub method <c>DeleteSession</c>) on a real master with its default SQLite journal:
/// afterwards no row of the session is left in the journal's file, its open question is cancelled, both tabs are told,
/// and the same session id starts over empty.
/// </summary>
public sealed class DeleteSessionTests : IAsyncLifetime
{
    private MasterProcess _master = null!;
    private readonly List<ChatClient> _browsers = [];

    public async Task InitializeAsync()
    {
        // Three seconds per answer: the third question is still being answered when the conversation goes.
        _master = await MasterProcess.StartAsync(broker: null, localWorkers: 1, new Dictionary<string, string?>
        {
            ["Worker__SimulatedDelay"] = "00:00:03",
        });
        await _master.WaitForWorkersAsync(1);
    }

    public async Task DisposeAsync()
    {
        foreach (var b in _browsers) await b.DisposeAsync();
        await _master.DisposeAsync();
    }

    private string Diagnostics() => _master.Process.Tail(40);

    private async Task<ChatClient> ConnectAsync(string? sessionId = null)
    {
        var browser = await ChatClient.ConnectAsync(_master.BaseUrl, sessionId);
        _browsers.Add(browser);
        return browser;
    }

    /// <summary>Rows of the session in each table, read from the master's SQLite file without writing to it.</summary>
    private (long Journal, long Snapshot, long Tags) Rows(string sessionId)
    {
        var file = new SqliteConnectionStringBuilder(_master.JournalConnectionString).DataSource;
        using var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ConnectionString);
        db.Open();
        long Count(string table)
        {
            using var count = db.CreateCommand();
            count.CommandText = $"SELECT COUNT(*) FROM {table} WHERE persistence_id = $pid";
            count.Parameters.AddWithValue("$pid", "session-" + sessionId);
            return Convert.ToInt64(count.ExecuteScalar());
        }
        return (Count("journal"), Count("snapshot"), Count("tags"));
    }

    private async Task<string[]> TaskIdsAtDispatcherAsync() =>
        (await _master.Http.GetFromJsonAsync<JsonElement[]>("/api/tasks") ?? []).Select(t => t.Str("taskId")).ToArray();

    private long LowestSequenceNr(string sessionId)
    {
        var file = new SqliteConnectionStringBuilder(_master.JournalConnectionString).DataSource;
        using var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ConnectionString);
        db.Open();
        using var lowest = db.CreateCommand();
        lowest.CommandText = "SELECT MIN(sequence_number) FROM journal WHERE persistence_id = $pid";
        lowest.Parameters.AddWithValue("$pid", "session-" + sessionId);
        return Convert.ToInt64(lowest.ExecuteScalar());
    }

    private async Task<JsonElement[]> WorkersAsync() => await _master.WorkersAsync();

    [Fact]
    public async Task After_DeleteSession_no_row_of_the_session_remains_in_the_journal_and_its_id_starts_over_empty()
    {
        var browser = await ConnectAsync();
        var sessionId = browser.SessionId;
        var otherTab = await ConnectAsync(sessionId);
        var bystander = await ConnectAsync(); // another session: untouched
        await bystander.SubmitAsync("A question of another conversation");
        await Poll.UntilAsync(() => bystander.Answers.Count == 1, TimeSpan.FromSeconds(60), "the other conversation's answer", Diagnostics);

        await browser.SubmitAsync("What is a journal?");
        await browser.SubmitAsync("What is a snapshot?");
        await Poll.UntilAsync(() => browser.Answers.Count == 2, TimeSpan.FromSeconds(60), "two answers", Diagnostics);
        var open = (await browser.SubmitAsync("Still being answered when the conversation goes")).Str("taskId");
        await Poll.UntilAsync(async () => (await WorkersAsync()).Any(w => w.Str("reportedStatus") == "busy"), TimeSpan.FromSeconds(10),
            "a worker at work on the third question", Diagnostics);
        Assert.Contains(open, await TaskIdsAtDispatcherAsync());
        Assert.Equal((5L, 0L, 0L), Rows(sessionId)); // three questions, two answers

        var deleted = await browser.DeleteSessionAsync();

        Assert.Equal(sessionId, deleted.Str("sessionId"));
        Assert.Equal((0L, 0L, 0L), Rows(sessionId));
        Assert.Equal(2, Rows(bystander.SessionId).Journal);
        await Poll.UntilAsync(() => browser.Payloads("SessionDeleted").Count == 1 && otherTab.Payloads("SessionDeleted").Count == 1,
            TimeSpan.FromSeconds(10), "SessionDeleted on both tabs", Diagnostics);
        Assert.Equal(sessionId, otherTab.Payloads("SessionDeleted")[0].Str("sessionId"));
        // The open question was cancelled at the dispatcher: the worker's result, when it comes, is refused.
        await Poll.UntilAsync(async () => !(await TaskIdsAtDispatcherAsync()).Contains(open), TimeSpan.FromSeconds(10),
            "the open question cancelled at the dispatcher", Diagnostics);
        await Poll.UntilAsync(async () => (await WorkersAsync()).All(w => w.Str("reportedStatus") == "idle"), TimeSpan.FromSeconds(30),
            "the worker done with the cancelled question", Diagnostics);
        Assert.DoesNotContain(browser.Answers.Concat(otherTab.Answers), a => a.Str("taskId") == open);
        Assert.Empty(browser.Payloads("TaskFailed").Concat(otherTab.Payloads("TaskFailed")));
        Assert.Equal((0L, 0L, 0L), Rows(sessionId));

        // The same id again: a new, empty session, whose journal starts over at sequence number 1.
        var again = await ConnectAsync(sessionId);
        Assert.Equal(sessionId, again.SessionId);
        Assert.False(again.Started.GetProperty("resumed").GetBoolean());
        Assert.Empty(again.Started.GetProperty("history").EnumerateArray());
        var asked = (await again.SubmitAsync("A new conversation")).Str("taskId");
        await Poll.UntilAsync(() => again.Answers.Any(a => a.Str("taskId") == asked), TimeSpan.FromSeconds(30), "the new conversation's answer", Diagnostics);
        Assert.Equal(1, LowestSequenceNr(sessionId));
        var resumed = await ConnectAsync(sessionId);
        Assert.True(resumed.Started.GetProperty("resumed").GetBoolean());
        Assert.Equal([asked], resumed.Started.GetProperty("history").EnumerateArray().Select(h => h.Str("taskId")));
    }
}
