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
    private Microsoft.Data.Sqlite.SqliteConnection? _locker;
    private string? _mounted;
    private readonly List<ChildProcess> _workers = [];
    private readonly List<ChatClient> _browsers = [];

    public async Task InitializeAsync() => _broker = await Mosquitto.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var b in _browsers) await b.DisposeAsync();
        foreach (var w in _workers) await w.DisposeAsync();
        if (_master is not null) await _master.DisposeAsync();
        if (_postgres is not null) await _postgres.DisposeAsync();
        if (_locker is not null) await _locker.DisposeAsync();
        if (_mounted is not null) await RunAsync("umount", _mounted);
        await _broker.DisposeAsync();
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(file, args)
        {
            RedirectStandardError = true, RedirectStandardOutput = true,
        })!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {error.Trim()} (this test needs root, as ./test.sh runs)");
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

    /// <summary>
    /// An outage, not a death: PostgreSQL stops (immediate) for 10 s while answers are coming back, and starts again.
    /// Readiness is false during it and true after; a question asked during it is refused with a message that says
    /// so; every question asked before it is answered exactly once after it, without a restart of the master.
    /// </summary>
    [Fact]
    public async Task A_PostgreSQL_outage_refuses_new_questions_and_loses_nothing_already_accepted()
    {
        _postgres = await Postgres.StartAsync();
        await JournalOutageAsync(new Dictionary<string, string?>
        {
            ["Persistence__Provider"] = "postgresql",
            ["Persistence__ConnectionString"] = _postgres.ConnectionString,
        }, begin: () => _postgres.StopAsync(), end: () => _postgres.StartAgainAsync(), TimeSpan.FromSeconds(15), refusedWithin: TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_SQLite_file_locked_by_another_process_refuses_new_questions_and_loses_nothing_already_accepted()
    {
        // Another process (this one) takes the file's write lock and holds it, as a sqlite3 shell in a transaction would.
        var file = Path.Combine(Directory.CreateTempSubdirectory("aisystem-locked-").FullName, "aisystem.db");
        await JournalOutageAsync(new Dictionary<string, string?> { ["Persistence__ConnectionString"] = $"Data Source={file}" },
            begin: async () =>
            {
                _locker = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Pooling=False");
                await _locker.OpenAsync();
                await using var command = _locker.CreateCommand();
                command.CommandText = "PRAGMA busy_timeout = 10000; BEGIN IMMEDIATE;";
                await command.ExecuteNonQueryAsync();
            },
            end: async () =>
            {
                await using (var command = _locker!.CreateCommand())
                {
                    command.CommandText = "ROLLBACK";
                    await command.ExecuteNonQueryAsync();
                }
                await _locker.DisposeAsync();
                _locker = null;
            }, TimeSpan.FromSeconds(15), refusedWithin: TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task A_full_disk_refuses_new_questions_with_a_message_and_loses_nothing_already_accepted()
    {
        // A real full disk: the journal on a small file system of its own (tmpfs), filled up by another file until the
        // kernel says "no space left on device", and freed again by deleting that file.
        var dir = Directory.CreateTempSubdirectory("aisystem-full-disk-").FullName;
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", dir);
        _mounted = dir;
        var filler = Path.Combine(dir, "filler");
        await JournalOutageAsync(new Dictionary<string, string?> { ["Persistence__ConnectionString"] = $"Data Source={Path.Combine(dir, "aisystem.db")}" },
            begin: async () =>
            {
                await using var stream = new FileStream(filler, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None);
                foreach (var size in new[] { 1 << 20, 4096 }) // megabytes, then pages: not one page is left
                {
                    var block = new byte[size];
                    try
                    {
                        while (true) await stream.WriteAsync(block);
                    }
                    catch (IOException)
                    {
                        // ENOSPC: what fits stays written
                    }
                }
                var free = new DriveInfo(dir).AvailableFreeSpace;
                Assert.True(free < 4096, $"the disk is not full: {free} bytes free");
            },
            end: () =>
            {
                File.Delete(filler);
                return Task.CompletedTask;
            }, TimeSpan.FromSeconds(10), refusedWithin: TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// A journal outage (<paramref name="begin"/>, lasting <paramref name="duration"/>, then <paramref name="end"/>)
    /// while answers to six questions come back: readiness turns false and a new question is refused with the
    /// journal's message; afterwards readiness comes back, every question taken is answered exactly once, and a new
    /// one is answered. No restart of the master.
    /// </summary>
    private async Task JournalOutageAsync(Dictionary<string, string?> settings, Func<Task> begin, Func<Task> end, TimeSpan duration,
        TimeSpan refusedWithin)
    {
        _master = await MasterProcess.StartAsync(_broker, localWorkers: 0, settings);
        _workers.Add(_master.StartWorker("outage-1", new Dictionary<string, string?> { ["Worker__SimulatedDelay"] = "00:00:02", ["Worker__Capacity"] = "2" }));
        await _master.WaitForWorkersAsync(1);
        var browser = await ChatClient.ConnectAsync(_master.BaseUrl);
        _browsers.Add(browser);
        var asked = new List<string>();
        for (var i = 0; i < 6; i++) asked.Add((await browser.SubmitAsync($"Asked before the outage {i}")).Str("taskId"));
        Assert.True(await Ready(), "the master is not ready before the outage");

        await begin(); // two answers come back within 2 s, two more 2 s later, while it lasts
        var outageStarted = DateTime.UtcNow;
        await Poll.UntilAsync(async () => !await Ready(), TimeSpan.FromSeconds(15), "readiness to turn false", Diagnostics);
        string? refusal = null;
        await Poll.UntilAsync(async () =>
        {
            try
            {
                asked.Add((await browser.SubmitAsync("Asked during the outage")).Str("taskId")); // taken: the write is to come
                return false;
            }
            catch (Microsoft.AspNetCore.SignalR.HubException e)
            {
                refusal = e.Message;
                return true;
            }
        }, refusedWithin, "a question refused during the outage", Diagnostics);
        Assert.Contains("not being saved right now", refusal);
        var left = duration - (DateTime.UtcNow - outageStarted);
        if (left > TimeSpan.Zero) await Task.Delay(left); // the outage's length: a duration of the scenario, not a wait for a condition

        await end();
        await Poll.UntilAsync(Ready, TimeSpan.FromSeconds(20), "readiness to come back", Diagnostics);
        // Every question taken is answered, live or (for a page that missed the push) in the history, exactly once.
        await Poll.UntilAsync(async () =>
        {
            await using var again = await ChatClient.ConnectAsync(_master.BaseUrl, browser.SessionId);
            var answered = again.Started.GetProperty("history").EnumerateArray()
                .Where(h => h.GetProperty("response").ValueKind == JsonValueKind.String).Select(h => h.Str("taskId")).ToHashSet();
            return asked.All(answered.Contains);
        }, TimeSpan.FromSeconds(60), "every question taken answered after the outage", Diagnostics);
        var live = browser.Answers.Select(a => a.Str("taskId")).ToList();
        Assert.Equal(live.Count, live.Distinct().Count());
        Assert.Empty(browser.Payloads("TaskFailed"));
        Assert.False(_master.Process.HasExited, "the master died");
        var after = await browser.SubmitAsync("Asked after the outage");
        await Poll.UntilAsync(() => browser.Answers.Any(a => a.Str("taskId") == after.Str("taskId")), TimeSpan.FromSeconds(30),
            "an answer to a question asked after the outage", Diagnostics);
    }

    [Fact]
    public async Task Twenty_thousand_questions_leave_a_journal_bounded_by_retention_and_a_quick_recovery()
    {
        // 20 sessions x 1,000 questions, 50 turns of history each. Retention keeps per session at most one snapshot
        // and the events written since it (a snapshot comes once they could hold the history twice over): about
        // 2 x 50 rows, whatever the traffic. Without retention this would be 40,000 rows.
        const int sessions = 20, perSession = 1_000, maxHistory = 50;
        var file = Path.Combine(Directory.CreateTempSubdirectory("aisystem-retention-").FullName, "aisystem.db");
        var settings = new Dictionary<string, string?>
        {
            ["Persistence__ConnectionString"] = $"Data Source={file}",
            ["Sessions__MaxHistory"] = maxHistory.ToString(),
            ["Limits__MaxQueriesPerMinute"] = "1000000",
        };
        _master = await MasterProcess.StartAsync(_broker, localWorkers: 0, settings);
        _workers.Add(_master.StartWorker("retention-1", new Dictionary<string, string?> { ["Worker__SimulatedDelay"] = "00:00:00", ["Worker__Capacity"] = "32" }));
        await _master.WaitForWorkersAsync(1);
        var browsers = new List<ChatClient>();
        for (var i = 0; i < sessions; i++) browsers.Add(await ChatClient.ConnectAsync(_master.BaseUrl));
        _browsers.AddRange(browsers);

        // A question of 1,000 characters, quoted by its answer: about 2.5 KB of journal per question.
        var padding = new string('r', 1_000);
        await Task.WhenAll(browsers.Select(async (b, n) =>
        {
            for (var q = 0; q < perSession; q++) await b.AskAsync($"retention {n}/{q} {padding}", TimeSpan.FromSeconds(60));
        }));

        var bound = sessions * (2 * maxHistory + 4);
        long rows = 0, snapshots = 0;
        await Poll.UntilAsync(() =>
        {
            (rows, snapshots) = Count(file);
            return rows <= bound && snapshots <= sessions + 2;
        }, TimeSpan.FromSeconds(20), $"the journal within {bound} rows and {sessions + 2} snapshots", () => $"{rows} rows, {snapshots} snapshots\n{Diagnostics()}");
        // Pages freed by deletes are reused: the files stay near what the retained rows need (about 0.6 MB a session).
        var bytes = new[] { "", "-wal" }.Select(x => new FileInfo(file + x)).Where(f => f.Exists).Sum(f => f.Length);
        const long maxBytes = 40L * 1024 * 1024;
        Assert.True(bytes <= maxBytes, $"the journal's files hold {bytes:N0} B after {sessions * perSession:N0} questions (bound {maxBytes:N0} B); {rows} rows");

        // Recovery reads at most one snapshot and ~100 events a session: quick, whatever was asked before.
        var history = browsers[0].SessionId;
        _master.Process.Kill();
        await _master.Process.WaitForExitAsync(TimeSpan.FromSeconds(10));
        var restarted = System.Diagnostics.Stopwatch.StartNew();
        await _master.StartAgainAsync();
        await Poll.UntilAsync(Ready, TimeSpan.FromSeconds(30), "the master ready after the restart", Diagnostics);
        await using var resumed = await ChatClient.ConnectAsync(_master.BaseUrl, history);
        var recovery = restarted.Elapsed;
        Assert.True(resumed.Started.GetProperty("resumed").GetBoolean());
        var turns = resumed.Started.GetProperty("history").EnumerateArray().ToList();
        Assert.Equal(maxHistory, turns.Count);
        Assert.Equal($"retention 0/{perSession - 1} {padding}", turns[^1].Str("query"));
        Assert.True(recovery < TimeSpan.FromSeconds(20), $"ready and resumed {recovery.TotalSeconds:F1} s after the restart (bound 20 s)");
    }

    /// <summary>Rows of the journal and of the snapshot store, read beside the master (write-ahead logging allows it).</summary>
    private static (long Rows, long Snapshots) Count(string file)
    {
        using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
        db.Open();
        using var command = db.CreateCommand();
        command.CommandText = "SELECT (SELECT COUNT(*) FROM journal), (SELECT COUNT(*) FROM snapshot)";
        using var reader = command.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private async Task<bool> Ready()
    {
        try { return (await _master!.Http.GetAsync("/healthz/ready")).IsSuccessStatusCode; }
        catch (HttpRequestException) { return false; }
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
