using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using AiSystem.Integration.Tests.Infrastructure;
using AiSystem.Worker.Tests;
using Microsoft.Playwright;

namespace AiSystem.Integration.Tests;

/// <summary>
/// The chat page in Debian's Chromium against a real master and one real worker process: answers stream in word by
/// word (the simulated model paced across 4 s, or the fake Gemini server's recorded-style SSE when the page sends a
/// key), are rendered as sanitized Markdown, survive a reload mid-answer, queue behind a busy worker, show up in every
/// tab of the session, are asked exactly once when the connection drops around them, and go from every tab when the
/// conversation is deleted.
/// </summary>
public sealed class ChatPageTests : IAsyncLifetime
{
    private const string CodeQuestion = "How do I print in JavaScript?\n```js\nconsole.log(\"hi\")\n```";

    private FakeGeminiServer _gemini = null!;
    private MasterProcess _master = null!;
    private ChildProcess _worker = null!;
    private Chromium _chromium = null!;
    private IBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        _gemini = await FakeGeminiServer.StartAsync();
        _gemini.EventDelay = TimeSpan.FromMilliseconds(300);
        _master = await MasterProcess.StartAsync(broker: null, localWorkers: 0);
        // One worker: every question waits for the one before it. Without a key it answers with the simulated model
        // (streamed across 4 s); with the page's key it asks the fake Gemini server.
        _worker = _master.StartWorker("page-worker", new Dictionary<string, string?>
        {
            ["Worker__SimulatedDelay"] = "00:00:04",
            ["Gemini__BaseUrl"] = _gemini.BaseUrl.ToString(),
        });
        await _master.WaitForWorkersAsync(1);
        _chromium = await Chromium.LaunchAsync();
        _browser = _chromium.Browser;
    }

    public async Task DisposeAsync()
    {
        await _chromium.DisposeAsync();
        await _worker.DisposeAsync();
        await _master.DisposeAsync();
        await _gemini.DisposeAsync();
    }

    /// <summary>Records (data-state, text length) of the newest turn's answer at every change, from page load on.</summary>
    private const string RecordUpdates = """
        window.__updates = [];
        document.addEventListener('DOMContentLoaded', () => {
          const log = document.getElementById('conversation');
          new MutationObserver(() => {
            const turn = log.querySelector('article.turn:last-of-type');
            if (!turn) return;
            const entry = [turn.dataset.state, String(turn.querySelector('.answer').textContent.length)];
            const last = window.__updates[window.__updates.length - 1];
            if (!last || last[0] !== entry[0] || last[1] !== entry[1]) window.__updates.push(entry);
          }).observe(log, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['data-state'] });
        });
        """;

    /// <summary>A new browser (its own context, so its own session), or another tab of <paramref name="sameBrowserAs"/>.</summary>
    private async Task<(IPage Page, List<string> ConsoleErrors)> OpenAsync(int width = 1100, int height = 800,
        Func<IPage, Task>? beforeLoad = null, IPage? sameBrowserAs = null)
    {
        var context = sameBrowserAs?.Context ?? await _browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
            Permissions = ["clipboard-read", "clipboard-write"],
        });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") errors.Add(m.Text); };
        page.PageError += (_, e) => errors.Add(e);
        await page.AddInitScriptAsync(RecordUpdates);
        if (beforeLoad is not null) await beforeLoad(page);
        await page.GotoAsync(_master.BaseUrl);
        await Assertions.Expect(page.Locator("#connection-state")).ToHaveAttributeAsync("data-state", "connected");
        return (page, errors);
    }

    private static async Task AskAsync(IPage page, string question)
    {
        await page.GetByLabel("Your question").FillAsync(question);
        await page.GetByLabel("Your question").PressAsync("Enter");
    }

    private static async Task<List<(string State, int Length)>> UpdatesAsync(IPage page) =>
        (await page.EvaluateAsync<string[][]>("window.__updates")).Select(u => (u[0], int.Parse(u[1]))).ToList();

    [Fact]
    public async Task An_answer_streams_in_and_ends_as_Markdown_with_a_working_copy_button()
    {
        var (page, errors) = await OpenAsync();
        await AskAsync(page, CodeQuestion);

        var turn = page.Locator("article.turn").First;
        // While it streams the typing indicator names the worker and the time ticks.
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "streaming", new() { Timeout = 15_000 });
        await Assertions.Expect(turn.Locator(".status")).ToHaveTextAsync("page-worker is writing…");
        await Assertions.Expect(turn.Locator(".elapsed")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^\d+ s$"));
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });

        var updates = await UpdatesAsync(page);
        var final = updates[^1];
        Assert.Equal("answered", final.State);
        var streamed = updates.Where(u => u.State == "streaming" && u.Length > 0).Select(u => u.Length).Distinct().ToList();
        Assert.True(streamed.Count >= 2, $"at least two visible updates before the answer completes; saw {string.Join(", ", updates)}");
        Assert.True(streamed.Min() < final.Length, "the first visible text is only the beginning of the answer");

        // Rendered as Markdown: bold, a quote, and the code block with its own copy button.
        var answer = turn.Locator(".answer");
        await Assertions.Expect(answer.Locator("strong").First).ToHaveTextAsync("You asked:");
        await Assertions.Expect(answer.Locator("blockquote pre code")).ToHaveTextAsync("console.log(\"hi\")\n");
        await Assertions.Expect(answer.Locator(".code-lang")).ToHaveTextAsync("js");
        await Assertions.Expect(turn.Locator(".meta")).ToContainTextAsync("page-worker · simulated");
        await answer.GetByRole(AriaRole.Button, new() { Name = "Copy the js code" }).ClickAsync();
        var copy = answer.Locator(".copy-code");
        await Assertions.Expect(copy).ToHaveTextAsync("Copied");
        await Assertions.Expect(copy).ToHaveAccessibleNameAsync("Copied to the clipboard");
        Assert.Equal("console.log(\"hi\")\n", await page.EvaluateAsync<string>("navigator.clipboard.readText()"));
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Markup_and_javascript_links_in_an_answer_are_inert()
    {
        // The model (the fake Gemini server, which the worker asks because the page sends a key) answers with markup.
        _gemini.Respond(200, Sse("Here is a picture: ", "<img src=x onerror=\"alert(1); window.__pwned = 1\"> and ",
            "a [tricky link](javascript:alert(1)) next to a [safe one](https://example.com/docs).\n"), "text/event-stream");
        var (page, _) = await OpenAsync();
        var dialogs = new List<string>();
        page.Dialog += async (_, d) => { dialogs.Add(d.Message); await d.DismissAsync(); };
        await page.GetByLabel("Gemini API key (optional)").FillAsync("AIzaFAKE-page-key");
        await AskAsync(page, "Show me some HTML");

        var turn = page.Locator("article.turn").First;
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        var answer = turn.Locator(".answer");
        await Assertions.Expect(turn.Locator(".meta")).ToContainTextAsync("gemini:");
        // The markup is shown as text, never as an element.
        await Assertions.Expect(answer).ToContainTextAsync("<img src=x onerror=\"alert(1); window.__pwned = 1\">");
        Assert.Equal(0, await answer.Locator("img").CountAsync());
        Assert.Equal(0, await page.Locator("[onerror]").CountAsync());
        // The javascript: link keeps its text but has no target; the real one opens safely elsewhere.
        var tricky = answer.GetByText("tricky link");
        await Assertions.Expect(tricky).ToBeVisibleAsync();
        Assert.Null(await tricky.GetAttributeAsync("href"));
        await tricky.ClickAsync();
        var safe = answer.GetByRole(AriaRole.Link, new() { Name = "safe one" });
        await Assertions.Expect(safe).ToHaveAttributeAsync("href", "https://example.com/docs");
        await Assertions.Expect(safe).ToHaveAttributeAsync("rel", "noopener noreferrer");
        Assert.Equal(0, await page.Locator("a[href^='javascript:' i]").CountAsync());
        Assert.Empty(dialogs);
        Assert.Null(await page.EvaluateAsync<int?>("window.__pwned"));
        // The key went to the model, and only there.
        Assert.Contains(_gemini.Requests, r => r.Header("x-goog-api-key") == "AIzaFAKE-page-key");
    }

    [Fact]
    public async Task A_reload_mid_answer_brings_back_the_text_so_far_and_then_the_whole_answer()
    {
        var (page, _) = await OpenAsync();
        await AskAsync(page, "Tell me a story, slowly");
        var turn = page.Locator("article.turn").First;
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "streaming", new() { Timeout = 15_000 });
        await Assertions.Expect(turn.Locator(".answer")).Not.ToBeEmptyAsync();

        await page.ReloadAsync();

        var restored = page.Locator("article.turn").First;
        await Assertions.Expect(restored.Locator(".question")).ToHaveTextAsync("Tell me a story, slowly");
        await Assertions.Expect(restored).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await Assertions.Expect(restored.Locator(".answer")).ToContainTextAsync("Simulated answer");
        await Assertions.Expect(restored.Locator(".answer")).ToContainTextAsync("Tell me a story, slowly");
        // Chunks after the reload continue the text at an offset; only the session's partial text can show what
        // came before them. So text while still streaming means the page got the partial back.
        var updates = await UpdatesAsync(page);
        Assert.Contains(updates, u => u.State == "streaming" && u.Length > 0);
    }

    [Fact]
    public async Task A_question_behind_a_busy_worker_shows_its_queue_position_then_its_worker_then_its_answer()
    {
        var (first, _) = await OpenAsync();
        var (second, _) = await OpenAsync(); // another browser (its own session)
        await AskAsync(first, "Keep the worker busy");
        await Assertions.Expect(first.Locator("article.turn").First).ToHaveAttributeAsync("data-state",
            new System.Text.RegularExpressions.Regex("^(assigned|streaming)$"), new() { Timeout = 15_000 });

        await AskAsync(second, "Wait your turn");
        var turn = second.Locator("article.turn").First;
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "queued");
        await Assertions.Expect(turn.Locator(".status")).ToHaveTextAsync("Queued — position 1");
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await Assertions.Expect(first.Locator("article.turn").First).ToHaveAttributeAsync("data-state", "answered");

        var states = (await UpdatesAsync(second)).Select(u => u.State).Distinct().ToList();
        var queued = states.IndexOf("queued");
        var working = states.FindIndex(s => s is "assigned" or "streaming");
        Assert.True(queued >= 0 && working > queued && states[^1] == "answered", $"states seen: {string.Join(" → ", states)}");
    }

    [Fact]
    public async Task Screenshots_of_the_chat_in_light_and_dark_on_desktop_and_phone()
    {
        var (page, errors) = await OpenAsync(1280, 860);
        await AskAsync(page, CodeQuestion);
        await Assertions.Expect(page.Locator("article.turn").First).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await AskAsync(page, "What is **Markdown**, in one sentence?");
        var second = page.Locator("article.turn").Nth(1);
        await Assertions.Expect(second).ToHaveAttributeAsync("data-state", "streaming", new() { Timeout = 15_000 });
        await Assertions.Expect(second.Locator(".answer")).ToContainTextAsync("You asked", new() { Timeout = 10_000 });

        var dir = Repo.Artifacts("screenshots");
        foreach (var (scheme, name) in new[] { (ColorScheme.Light, "light"), (ColorScheme.Dark, "dark") })
        {
            await page.EmulateMediaAsync(new PageEmulateMediaOptions { ColorScheme = scheme });
            await page.SetViewportSizeAsync(1280, 860);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(dir, $"chat-{name}-desktop.png") });
            await page.SetViewportSizeAsync(375, 812);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(dir, $"chat-{name}-phone.png") });
        }

        // The phone layout keeps every control reachable: nothing wider than the screen.
        Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"));
        // Every control has an accessible name.
        var unnamed = await page.EvaluateAsync<string[]>("""
            Array.from(document.querySelectorAll('button, input, textarea, select, a[href]'))
              .filter(e => !(e.getAttribute('aria-label') || e.labels?.length || e.textContent.trim()))
              .map(e => e.outerHTML)
            """);
        Assert.Empty(unnamed);
        await Assertions.Expect(second).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        Assert.Empty(errors);
    }

    [Fact]
    public async Task A_second_tab_of_the_session_shows_the_question_the_first_one_asked_and_its_answer()
    {
        var (first, firstErrors) = await OpenAsync();
        // Polled with EvaluateAsync: WaitForFunctionAsync evaluates a string with eval, which the page's CSP forbids.
        await Poll.UntilAsync(async () => await first.EvaluateAsync<string?>("localStorage.getItem('aisystem.sessionId')") is { Length: > 0 },
            TimeSpan.FromSeconds(30), "the page's session id");
        var (second, secondErrors) = await OpenAsync(sameBrowserAs: first);
        Assert.Equal(await first.EvaluateAsync<string>("localStorage.getItem('aisystem.sessionId')"),
            await second.EvaluateAsync<string>("localStorage.getItem('aisystem.sessionId')"));

        await AskAsync(first, "Asked in the first tab");
        var asked = first.Locator("article.turn");
        var shown = second.Locator("article.turn");
        // TaskAccepted brings the question to the other tab, which then follows it like the tab that asked.
        await Assertions.Expect(shown).ToHaveCountAsync(1, new() { Timeout = 15_000 });
        await Assertions.Expect(shown.Locator(".question")).ToHaveTextAsync("Asked in the first tab");
        Assert.Equal(await asked.GetAttributeAsync("data-task-id"), await shown.GetAttributeAsync("data-task-id"));
        await Assertions.Expect(shown).ToHaveAttributeAsync("data-state", "streaming", new() { Timeout = 15_000 });
        await Assertions.Expect(shown.Locator(".status")).ToHaveTextAsync("page-worker is writing…");
        await Assertions.Expect(shown).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await Assertions.Expect(asked).ToHaveAttributeAsync("data-state", "answered");
        await Assertions.Expect(shown.Locator(".answer")).ToContainTextAsync("Asked in the first tab");
        await Assertions.Expect(shown.Locator(".meta")).ToHaveTextAsync((await asked.Locator(".meta").TextContentAsync())!);
        Assert.Equal(await asked.Locator(".answer").TextContentAsync(), await shown.Locator(".answer").TextContentAsync());
        await Assertions.Expect(asked).ToHaveCountAsync(1);
        Assert.Empty(firstErrors);
        Assert.Empty(secondErrors);
    }

    [Fact]
    public async Task Delete_conversation_asks_first_then_empties_every_tab_and_the_same_session_starts_over()
    {
        var (first, firstErrors) = await OpenAsync();
        // Polled with EvaluateAsync: WaitForFunctionAsync evaluates a string with eval, which the page's CSP forbids.
        await Poll.UntilAsync(async () => await first.EvaluateAsync<string?>("localStorage.getItem('aisystem.sessionId')") is { Length: > 0 },
            TimeSpan.FromSeconds(30), "the page's session id");
        var sessionId = await first.EvaluateAsync<string>("localStorage.getItem('aisystem.sessionId')");
        var (second, secondErrors) = await OpenAsync(sameBrowserAs: first);
        await AskAsync(first, "Asked before the deletion");
        await Assertions.Expect(first.Locator("article.turn")).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await Assertions.Expect(second.Locator("article.turn")).ToHaveCountAsync(1);

        // It asks first; Cancel (or Escape) keeps everything.
        var dialog = first.Locator("#delete-dialog");
        await first.Locator("#delete-session").ClickAsync();
        await Assertions.Expect(dialog).ToBeVisibleAsync();
        await Assertions.Expect(dialog.GetByRole(AriaRole.Button, new() { Name = "Cancel" })).ToBeFocusedAsync();
        await first.Keyboard.PressAsync("Escape");
        await Assertions.Expect(dialog).ToBeHiddenAsync();
        await Assertions.Expect(first.Locator("#delete-session")).ToBeFocusedAsync();
        await Assertions.Expect(first.Locator("article.turn")).ToHaveCountAsync(1);

        await first.Locator("#delete-session").ClickAsync();
        await Assertions.Expect(dialog).ToBeVisibleAsync();
        await first.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Repo.Artifacts("screenshots"), "chat-delete-dialog.png") });
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Delete conversation" }).ClickAsync();
        await Assertions.Expect(first.Locator("article.turn")).ToHaveCountAsync(0);
        await Assertions.Expect(first.Locator("#empty-hint")).ToBeVisibleAsync();
        await Assertions.Expect(first.Locator("#session-notice")).ToHaveTextAsync("The conversation was deleted.");
        await Assertions.Expect(second.Locator("article.turn")).ToHaveCountAsync(0);
        await Assertions.Expect(second.Locator("#session-notice")).ToHaveTextAsync("This conversation was deleted in another tab or window.");
        await Assertions.Expect(first.Locator("#connection-state")).ToHaveAttributeAsync("data-state", "connected");
        Assert.Equal(sessionId, await first.EvaluateAsync<string>("localStorage.getItem('aisystem.sessionId')"));

        // The same session id, empty: a reload brings nothing back, and both tabs follow its new questions.
        await first.ReloadAsync();
        await Assertions.Expect(first.Locator("#connection-state")).ToHaveAttributeAsync("data-state", "connected");
        await Assertions.Expect(first.Locator("#empty-hint")).ToBeVisibleAsync();
        await Assertions.Expect(first.Locator("article.turn")).ToHaveCountAsync(0);
        await AskAsync(first, "Asked after the deletion");
        await Assertions.Expect(first.Locator("article.turn")).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await Assertions.Expect(second.Locator("article.turn .question")).ToHaveTextAsync("Asked after the deletion");
        Assert.Empty(firstErrors);
        Assert.Empty(secondErrors);
    }

    [Fact]
    public async Task A_question_whose_reply_was_lost_with_the_connection_is_sent_again_under_its_id_and_answered_once()
    {
        var link = new HubLink();
        var (page, _) = await OpenAsync(beforeLoad: link.AttachAsync);
        link.CutAfterNextSubmit();
        await AskAsync(page, "Asked as the connection dropped");

        // The call reached the server, its reply did not reach the page: the page says it sends it again...
        var turn = page.Locator("article.turn");
        await Assertions.Expect(page.Locator("#connection-state")).Not.ToHaveAttributeAsync("data-state", "connected");
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "sending");
        await Assertions.Expect(turn.Locator(".status")).ToContainTextAsync("sent again once the page reconnects");
        Assert.Single(link.Submits);

        // ...and does once the connection is back: the same task id, one question, one answer.
        link.Release();
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await Assertions.Expect(turn).ToHaveCountAsync(1);
        var taskId = await turn.GetAttributeAsync("data-task-id");
        Assert.Equal(2, link.Submits.Count);
        Assert.All(link.Submits, s => Assert.Equal(taskId, s.GetProperty("taskId").GetString()));
        Assert.All(link.Submits, s => Assert.Equal("Asked as the connection dropped", s.GetProperty("query").GetString()));

        // The session holds it once too.
        await page.ReloadAsync();
        await Assertions.Expect(page.Locator("article.turn")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("article.turn")).ToHaveAttributeAsync("data-state", "answered");
        Assert.Equal(taskId, await page.Locator("article.turn").GetAttributeAsync("data-task-id"));
    }

    [Fact]
    public async Task A_question_asked_while_disconnected_is_sent_once_the_page_is_back_and_answered_once()
    {
        var link = new HubLink();
        var (page, _) = await OpenAsync(beforeLoad: link.AttachAsync);
        await link.CutAsync();
        await Assertions.Expect(page.Locator("#connection-state")).ToHaveAttributeAsync("data-state", "reconnecting");
        await Assertions.Expect(page.Locator("#connection-banner")).ToBeVisibleAsync();

        await AskAsync(page, "Asked while offline");
        var turn = page.Locator("article.turn");
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "sending");
        await Assertions.Expect(turn.Locator(".status")).ToHaveTextAsync("Not sent yet — it is sent once the page is connected…");
        Assert.Equal("", await page.InputValueAsync("#query"));
        Assert.Empty(link.Submits);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Repo.Artifacts("screenshots"), "chat-not-sent-yet.png") });

        link.Release();
        await Assertions.Expect(page.Locator("#connection-banner")).ToBeHiddenAsync(new() { Timeout = 15_000 });
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await Assertions.Expect(turn).ToHaveCountAsync(1);
        await Assertions.Expect(turn.Locator(".answer")).ToContainTextAsync("Asked while offline");
        Assert.Single(link.Submits);
        Assert.Equal(await turn.GetAttributeAsync("data-task-id"), link.Submits.Single().GetProperty("taskId").GetString());
    }

    [Fact]
    public async Task A_refused_question_shows_the_servers_reason_on_its_turn_and_can_be_edited()
    {
        var (page, errors) = await OpenAsync();
        var tooLong = "Why? " + new string('x', 8000);
        await AskAsync(page, tooLong);

        var turn = page.Locator("article.turn");
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "refused");
        await Assertions.Expect(turn.Locator(".status")).ToHaveTextAsync(
            "The question is too long (8005 characters; the limit is 8000). Shorten it and send it again.");
        await Assertions.Expect(turn.GetByRole(AriaRole.Button, new() { Name = "Send this question again" })).ToBeVisibleAsync();
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Repo.Artifacts("screenshots"), "chat-refused.png") });

        // Edit: the text goes back to the box, the refused turn goes away; the edited question is a new one.
        await turn.GetByRole(AriaRole.Button, new() { Name = "Edit this question in the box and send it from there" }).ClickAsync();
        await Assertions.Expect(turn).ToHaveCountAsync(0);
        Assert.Equal(tooLong, await page.InputValueAsync("#query"));
        Assert.Equal("query", await page.EvaluateAsync<string>("document.activeElement.id"));
        await AskAsync(page, "Why, in short?");
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await Assertions.Expect(turn.Locator(".question")).ToHaveTextAsync("Why, in short?");
        Assert.Empty(errors);
    }

    /// <summary>
    /// Stands between the page and the chat hub: forwards every WebSocket frame both ways and records the page's
    /// SubmitQuery calls. It can cut the connection (at once, or right after the next SubmitQuery has reached the
    /// server, so that its reply is lost) and then holds the page's reconnects until <see cref="Release"/>.
    /// </summary>
    private sealed class HubLink
    {
        private const char RecordSeparator = '\u001e';
        private readonly object _gate = new();
        private IWebSocketRoute? _page;
        private IWebSocketRoute? _server;
        private TaskCompletionSource _reconnects = Open();
        private bool _cutAfterNextSubmit;
        private bool _cut;

        /// <summary>The argument of every SubmitQuery the page sent, in order.</summary>
        public ConcurrentQueue<JsonElement> Submits { get; } = new();

        public async Task AttachAsync(IPage page)
        {
            await page.RouteAsync(new Regex("/hubs/chat/negotiate"), async route =>
            {
                Task wait;
                lock (_gate) wait = _reconnects.Task;
                await wait;
                await route.ContinueAsync();
            });
            await page.RouteWebSocketAsync(new Regex("/hubs/chat"), ws =>
            {
                var server = ws.ConnectToServer();
                lock (_gate)
                {
                    (_page, _server, _cut) = (ws, server, false);
                }
                ws.OnMessage(frame =>
                {
                    if (frame.Text is null)
                    {
                        server.Send(frame.Binary!);
                        return;
                    }
                    server.Send(frame.Text);
                    var cutNow = false;
                    foreach (var record in frame.Text.Split(RecordSeparator, StringSplitOptions.RemoveEmptyEntries))
                    {
                        using var json = JsonDocument.Parse(record);
                        if (!json.RootElement.TryGetProperty("target", out var target) || target.GetString() != "SubmitQuery") continue;
                        Submits.Enqueue(json.RootElement.GetProperty("arguments")[0].Clone());
                        lock (_gate)
                        {
                            cutNow = _cutAfterNextSubmit;
                            _cutAfterNextSubmit = false;
                        }
                    }
                    if (cutNow) _ = CutAsync();
                });
                server.OnMessage(frame =>
                {
                    lock (_gate)
                        if (_cut && ReferenceEquals(_server, server)) return; // nothing more reaches the page once cut
                    if (frame.Text is null) ws.Send(frame.Binary!);
                    else ws.Send(frame.Text);
                });
            });
        }

        public void CutAfterNextSubmit()
        {
            lock (_gate) _cutAfterNextSubmit = true;
        }

        /// <summary>Closes the current connection on both sides; reconnects wait for <see cref="Release"/>.</summary>
        public async Task CutAsync()
        {
            IWebSocketRoute page, server;
            lock (_gate)
            {
                if (_reconnects.Task.IsCompleted) _reconnects = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _cut = true;
                (page, server) = (_page!, _server!);
            }
            await server.CloseAsync();
            await page.CloseAsync(new() { Code = 4000, Reason = "cut by the test" });
        }

        public void Release()
        {
            lock (_gate) _reconnects.TrySetResult();
        }

        private static TaskCompletionSource Open()
        {
            var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            open.SetResult();
            return open;
        }
    }

    /// <summary>A Gemini streamed reply (SSE) whose events carry these pieces of text.</summary>
    private static string Sse(params string[] pieces) => string.Concat(pieces.Select((text, i) =>
        "data: " + JsonSerializer.Serialize(new
        {
            candidates = new[] { new { content = new { parts = new[] { new { text } }, role = "model" }, finishReason = i == pieces.Length - 1 ? "STOP" : null } },
            modelVersion = "gemini-2.5-flash",
        }) + "\r\n\r\n"));
}
