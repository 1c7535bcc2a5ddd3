using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AiSystem.Integration.Tests.Infrastructure;
using Microsoft.Playwright;

namespace AiSystem.Integration.Tests;

/// <summary>
/// The operator dashboard (<c>/dashboard</c>) in Debian's Chromium against a real master, Mosquitto and worker
/// processes: workers appear and vanish as they start and die, questions show in the live log tail, filters work;
/// the journal panel (and <c>GET /api/journal</c>, <c>aictl journal</c>) follows a PostgreSQL journal going down and back.
/// </summary>
public sealed class DashboardTests : IAsyncLifetime
{
    private static readonly LocatorAssertionsToBeVisibleOptions Slow = new() { Timeout = 60_000 };

    private Mosquitto _broker = null!;
    private MasterProcess? _master;
    private Postgres? _postgres;
    private readonly List<ChildProcess> _workers = [];
    private readonly List<ChatClient> _browsers = [];
    private Chromium _chromium = null!;
    private IBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        _broker = await Mosquitto.StartAsync();
        _chromium = await Chromium.LaunchAsync();
        _browser = _chromium.Browser;
    }

    public async Task DisposeAsync()
    {
        await _chromium.DisposeAsync();
        foreach (var b in _browsers) await b.DisposeAsync();
        foreach (var w in _workers) await w.DisposeAsync();
        if (_master is not null) await _master.DisposeAsync();
        if (_postgres is not null) await _postgres.DisposeAsync();
        await _broker.DisposeAsync();
    }

    private async Task<JsonElement> JournalAsync() => await _master!.Http.GetFromJsonAsync<JsonElement>("/api/journal");

    private ChildProcess StartWorker(string id, int capacity = 1)
    {
        // Half-second heartbeats: a silent worker is declared gone after 1.5 s (DispatchPolicy.MissedHeartbeats).
        var worker = _master!.StartWorker(id, new Dictionary<string, string?>
        {
            ["Worker__HeartbeatInterval"] = "00:00:00.500",
            ["Worker__Capacity"] = capacity.ToString(),
        });
        _workers.Add(worker);
        return worker;
    }

    private async Task<IPage> OpenDashboardAsync(List<string> consoleErrors)
    {
        var page = await _browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        page.Console += (_, m) => { if (m.Type == "error") consoleErrors.Add(m.Text); };
        page.PageError += (_, e) => consoleErrors.Add(e);
        await page.GotoAsync(_master!.BaseUrl + "/dashboard");
        Assert.Equal("AiSystem dashboard", await page.TitleAsync());
        return page;
    }

    private string Diagnostics() => string.Join('\n', _workers.Select(w => w.Tail(10)).Append(_master!.Process.Tail(40)));

    [Fact]
    public async Task Workers_appear_and_vanish_with_their_processes_and_questions_show_in_the_filtered_log_tail()
    {
        _master = await MasterProcess.StartAsync(_broker, localWorkers: 0);
        var errors = new List<string>();
        var page = await OpenDashboardAsync(errors);
        await Assertions.Expect(page.Locator("#connection-state")).ToHaveAttributeAsync("data-state", "connected");
        await Assertions.Expect(page.Locator("#workers-empty")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#members tbody tr")).ToHaveCountAsync(1); // the master alone

        // Starting worker processes makes them appear, with their slots; they join the cluster too.
        StartWorker("dash-alpha", capacity: 2);
        var victim = StartWorker("dash-beta");
        var alpha = page.Locator("#workers tr[data-worker-id='dash-alpha']");
        var beta = page.Locator("#workers tr[data-worker-id='dash-beta']");
        await Assertions.Expect(alpha).ToBeVisibleAsync(Slow);
        await Assertions.Expect(beta).ToBeVisibleAsync(Slow);
        await Assertions.Expect(alpha).ToHaveAttributeAsync("data-status", "idle");
        await Assertions.Expect(alpha.Locator("td[data-label='Slots']")).ToHaveTextAsync("0 / 2");
        await Assertions.Expect(page.Locator("#stat-workers")).ToHaveTextAsync("2");
        await Assertions.Expect(page.Locator("#members tbody tr")).ToHaveCountAsync(3, new() { Timeout = 60_000 });
        await Assertions.Expect(page.Locator("#workers-empty")).ToBeHiddenAsync();

        // A question: it shows in the log tail, from the master (assigned) and from the worker (done).
        var browser = await ChatClient.ConnectAsync(_master.BaseUrl);
        _browsers.Add(browser);
        var taskIds = new List<string>();
        for (var i = 0; i < 4; i++)
            taskIds.Add((await browser.SubmitAsync($"Dashboard question {i}")).Str("taskId"));
        await Poll.UntilAsync(() => browser.Answers.Count == 4, TimeSpan.FromSeconds(60), "four answers", Diagnostics);
        var taskId = taskIds[0];
        var taskLines = page.Locator("#log li.log-line", new() { HasText = taskId });
        await Assertions.Expect(taskLines.And(page.Locator("[data-source='master']")).First).ToBeVisibleAsync(Slow);
        await Assertions.Expect(taskLines.And(page.Locator("[data-source^='dash-']")).First).ToBeVisibleAsync(Slow);
        Assert.Equal("info", await taskLines.First.GetAttributeAsync("data-level"));

        // The journal: this master's SQLite file (the default provider), working, every question and answer written.
        var journal = await JournalAsync();
        Assert.Equal(("sqlite", "aisystem.db", "ok"), (journal.Str("provider"), journal.Str("location"), journal.Str("state")));
        Assert.True(journal.GetProperty("rowsWritten").GetInt64() >= 8, $"4 questions and 4 answers are 8 rows: {journal}");
        Assert.Equal(0, journal.GetProperty("consecutiveFailedBatches").GetInt32());
        Assert.Equal(JsonValueKind.String, journal.GetProperty("lastSuccessfulWrite").ValueKind);
        Assert.Equal(JsonValueKind.Null, journal.GetProperty("lastError").ValueKind);
        await Assertions.Expect(page.Locator("#journal")).ToHaveAttributeAsync("data-state", "ok");
        await Assertions.Expect(page.Locator("#journal-state")).ToHaveTextAsync("ok");
        await Assertions.Expect(page.Locator("#journal-where")).ToHaveTextAsync("sqlite · aisystem.db");
        await Assertions.Expect(page.Locator("#journal-failed-batches")).ToHaveTextAsync("0");
        await Assertions.Expect(page.Locator("#journal-rows")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^([89]|\d\d+)$"));
        await Assertions.Expect(page.Locator("#journal-error")).ToBeHiddenAsync();
        var aictl = await Aictl.RunAsync("journal", "--master", _master.BaseUrl);
        Assert.True(aictl.ExitCode == 0, aictl.Output);
        Assert.StartsWith("ok     sqlite    aisystem.db", aictl.Lines[1]);
        Assert.Equal("Last error: none", aictl.Lines[2]);
        var metrics = await _master.Http.GetStringAsync("/metrics");
        Assert.Matches(@"aisystem_journal_state\{[^}]*state=""ok""[^}]*\} 1", metrics);

        // The answers are counted in the chart and the figures above it.
        await Assertions.Expect(page.Locator("#answers-chart rect.bar-rate").First).ToBeVisibleAsync(Slow);
        await Assertions.Expect(page.Locator("#answers-chart")).ToHaveAttributeAsync("aria-label", new System.Text.RegularExpressions.Regex("^4 answers and 0 failures"));
        Assert.NotEqual("–", await page.Locator("#stat-latency").InnerTextAsync());

        // Level filter: without "info" the task's lines (all info) are hidden; back with it.
        var visibleTaskLines = page.Locator("#log li.log-line:visible", new() { HasText = taskId });
        await page.GetByLabel("info", new() { Exact = true }).UncheckAsync();
        await Assertions.Expect(visibleTaskLines).ToHaveCountAsync(0);
        await page.GetByLabel("info", new() { Exact = true }).CheckAsync();
        Assert.True(await visibleTaskLines.CountAsync() >= 2);

        // Source filter: only the master's lines.
        await page.GetByLabel("Source").SelectOptionAsync("master");
        await Assertions.Expect(page.Locator("#log li.log-line:visible[data-source^='dash-']")).ToHaveCountAsync(0);
        Assert.True(await visibleTaskLines.CountAsync() >= 1);
        await page.GetByLabel("Source").SelectOptionAsync("");

        // Text filter.
        await page.GetByLabel("Contains").FillAsync(taskIds[1]);
        await Assertions.Expect(page.Locator("#log li.log-line:visible", new() { HasText = taskId })).ToHaveCountAsync(0);
        Assert.True(await page.Locator("#log li.log-line:visible", new() { HasText = taskIds[1] }).CountAsync() >= 1);
        await page.GetByLabel("Contains").FillAsync("");
        await page.EvaluateAsync("document.activeElement.blur()");

        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Repo.Artifacts("screenshots"), "dashboard.png"), FullPage = true });
        await page.SetViewportSizeAsync(390, 844); // a phone: tables become cards, nothing wider than the screen
        Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways on a phone");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Repo.Artifacts("screenshots"), "dashboard-phone.png") });
        await page.SetViewportSizeAsync(1280, 900);

        // SIGKILL: no goodbye. The broker sends the worker's last will, the dispatcher removes it: the row shows it
        // gone, then goes; the other worker stays.
        victim.Kill();
        await Assertions.Expect(beta).ToHaveAttributeAsync("data-status", "gone", new() { Timeout = 30_000 });
        await Assertions.Expect(beta).ToHaveCountAsync(0, new() { Timeout = 30_000 });
        await Assertions.Expect(alpha).ToHaveAttributeAsync("data-status", "idle");
        await Assertions.Expect(page.Locator("#stat-workers")).ToHaveTextAsync("1");

        // The dispatcher logged the loss: it is in the tail as a warning, and the warning filter keeps it.
        await page.GetByLabel("info", new() { Exact = true }).UncheckAsync();
        await page.GetByLabel("debug", new() { Exact = true }).UncheckAsync();
        var gone = page.Locator("#log li.log-line:visible[data-level='warning']", new() { HasText = "dash-beta is gone" });
        await Assertions.Expect(gone.First).ToBeVisibleAsync(Slow);

        Assert.Empty(errors);
    }

    /// <summary>
    /// PostgreSQL stops (immediate): the first question that needs the journal fails, and the panel turns red with the
    /// error, as do the API and aictl; when it is back, the page's own sampling probes the database and the panel says
    /// the journal is recovering, without any question asked.
    /// </summary>
    [Fact]
    public async Task The_journal_panel_shows_a_failing_journal_and_its_recovery()
    {
        _postgres = await Postgres.StartAsync();
        _master = await MasterProcess.StartAsync(_broker, localWorkers: 0, new Dictionary<string, string?>
        {
            ["Persistence__Provider"] = "postgresql",
            ["Persistence__ConnectionString"] = _postgres.ConnectionString,
        });
        var errors = new List<string>();
        var page = await OpenDashboardAsync(errors);
        var panel = page.Locator("#journal");
        await Assertions.Expect(panel).ToHaveAttributeAsync("data-state", "ok", new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator("#journal-where")).ToHaveTextAsync("postgresql · 127.0.0.1/aisystem");
        var browser = await ChatClient.ConnectAsync(_master.BaseUrl);
        _browsers.Add(browser);

        await _postgres.StopAsync();
        await Poll.UntilAsync(async () =>
        {
            try { await browser.SubmitAsync("Asked while the journal is down"); }
            catch (Microsoft.AspNetCore.SignalR.HubException) { } // refused: it could not be stored
            return (await JournalAsync()).Str("state") == "failing";
        }, TimeSpan.FromSeconds(30), "the journal to fail", Diagnostics);

        await Assertions.Expect(panel).ToHaveAttributeAsync("data-state", "failing", new() { Timeout = 10_000 });
        await Assertions.Expect(page.Locator("#journal-state")).ToHaveTextAsync("failing: new questions are refused");
        var error = page.Locator("#journal-error");
        await Assertions.Expect(error).ToBeVisibleAsync();
        await Assertions.Expect(error).ToContainTextAsync("Npgsql");
        var journal = await JournalAsync();
        Assert.Equal(("postgresql", "127.0.0.1/aisystem"), (journal.Str("provider"), journal.Str("location")));
        var message = journal.GetProperty("lastError").Str("message");
        Assert.NotEmpty(message);
        Assert.DoesNotContain("Username=", message);
        Assert.DoesNotContain("Asked while the journal is down", message);
        var aictl = await Aictl.RunAsync("journal", "--master", _master.BaseUrl);
        Assert.Equal(1, aictl.ExitCode);
        Assert.StartsWith("failing  postgresql  127.0.0.1/aisystem", aictl.Lines[1]);
        Assert.StartsWith("Last error: ", aictl.Lines[^1]);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Repo.Artifacts("screenshots"), "dashboard-journal-failing.png"), FullPage = true });

        await _postgres.StartAgainAsync();
        await Assertions.Expect(panel).ToHaveAttributeAsync("data-state", "recovering", new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator("#journal-state")).ToHaveTextAsync("recovering");
        Assert.NotEqual("failing", (await JournalAsync()).Str("state"));
        Assert.Empty(errors);
    }

    [Fact]
    public async Task With_an_admin_token_the_dashboard_asks_for_it_and_refuses_a_wrong_one()
    {
        _master = await MasterProcess.StartAsync(_broker, localWorkers: 0, new Dictionary<string, string?> { ["Admin__Token"] = "dash-s3cret" });

        using (var negotiate = await _master.Http.PostAsync("/hubs/dashboard/negotiate?negotiateVersion=1", null))
            Assert.Equal(HttpStatusCode.Unauthorized, negotiate.StatusCode);
        using (var withQuery = await _master.Http.PostAsync("/hubs/dashboard/negotiate?negotiateVersion=1&access_token=dash-s3cret", null))
            Assert.Equal(HttpStatusCode.OK, withQuery.StatusCode);
        using (var journal = await _master.Http.GetAsync("/api/journal"))
            Assert.Equal(HttpStatusCode.Unauthorized, journal.StatusCode);

        var errors = new List<string>();
        var page = await OpenDashboardAsync(errors);
        var state = page.Locator("#connection-state");
        await Assertions.Expect(state).ToHaveAttributeAsync("data-state", "locked");
        var token = page.GetByLabel("Admin token");
        await Assertions.Expect(token).ToBeVisibleAsync();

        await token.FillAsync("wrong");
        await page.GetByRole(AriaRole.Button, new() { Name = "Open dashboard" }).ClickAsync();
        await Assertions.Expect(state).ToHaveAttributeAsync("data-state", "locked");
        await Assertions.Expect(token).ToBeFocusedAsync();

        await token.FillAsync("dash-s3cret");
        await page.GetByRole(AriaRole.Button, new() { Name = "Open dashboard" }).ClickAsync();
        await Assertions.Expect(state).ToHaveAttributeAsync("data-state", "connected");
        await Assertions.Expect(page.Locator("#token-form")).ToBeHiddenAsync();
        await Assertions.Expect(page.Locator("#members tbody tr")).ToHaveCountAsync(1);
        // The master's own start-up lines came in over upb/logs before the page opened: the tail has them.
        await Assertions.Expect(page.Locator("#log li.log-line[data-source='master']").First).ToBeAttachedAsync(new() { Timeout = 60_000 });

        // The browser logs the refused negotiations as failed requests; nothing else may go wrong.
        Assert.All(errors, e => Assert.Contains("401", e));
    }
}
