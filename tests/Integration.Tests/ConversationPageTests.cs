using System.Text.RegularExpressions;
using AiSystem.Integration.Tests.Infrastructure;
using AiSystem.Worker.Tests;
using Microsoft.Playwright;

namespace AiSystem.Integration.Tests;

/// <summary>
/// The chat page's conversation controls (issue 15) in Debian's Chromium against a real master and two real workers:
/// Stop keeps the text streamed so far, marked "Stopped", across a reload; Regenerate and Edit put a new turn in the
/// last one's place with a pager back to it; the side panel holds several conversations, switched back and forth while
/// both stream without mixing their answers, renamed and deleted; Export downloads the conversation as Markdown; and
/// screenshots of the side panel in light and dark, on a desktop and on a phone (where it is a drawer).
/// </summary>
public sealed class ConversationPageTests : IAsyncLifetime
{
    /// <summary>The end of the recorded long Gemini answer: a stopped answer never gets this far.</summary>
    private const string EndOfLongAnswer = "feel free to ask";

    private const string Models = "gemini-2.5-flash,gemini-2.5-pro";

    private FakeGeminiServer _gemini = null!;
    private MasterProcess _master = null!;
    private readonly List<ChildProcess> _workers = [];
    private Chromium _chromium = null!;
    private IBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        _gemini = await FakeGeminiServer.StartAsync();
        // The recorded long answer has 36 events: about 11 s to stream, time enough to press Stop in the middle of it.
        _gemini.EventDelay = TimeSpan.FromMilliseconds(300);
        // Two allowed models: the page shows its picker.
        _master = await MasterProcess.StartAsync(broker: null, localWorkers: 0, new Dictionary<string, string?>
        {
            ["Llm__Models"] = Models,
        });
        // Two workers: two conversations' answers stream at the same time. Without a key they answer with the
        // simulated model (streamed across 4 s); with the page's key they ask the fake Gemini server.
        foreach (var name in new[] { "page-worker-1", "page-worker-2" })
        {
            _workers.Add(_master.StartWorker(name, new Dictionary<string, string?>
            {
                ["Worker__SimulatedDelay"] = "00:00:04",
                ["Gemini__BaseUrl"] = _gemini.BaseUrl.ToString(),
                ["Llm__Models"] = Models,
            }));
        }
        await _master.WaitForWorkersAsync(2);
        _chromium = await Chromium.LaunchAsync();
        _browser = _chromium.Browser;
    }

    public async Task DisposeAsync()
    {
        await _chromium.DisposeAsync();
        foreach (var worker in _workers) await worker.DisposeAsync();
        await _master.DisposeAsync();
        await _gemini.DisposeAsync();
    }

    /// <summary>A new browser (its own context: its own localStorage, so its own list of conversations).</summary>
    private async Task<(IPage Page, List<string> Errors)> OpenAsync(int width = 1100, int height = 800)
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
            AcceptDownloads = true,
        });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") errors.Add(m.Text); };
        page.PageError += (_, e) => errors.Add(e);
        await page.GotoAsync(_master.BaseUrl);
        await ConnectedAsync(page);
        return (page, errors);
    }

    private static Task ConnectedAsync(IPage page) =>
        Assertions.Expect(page.Locator("#connection-state")).ToHaveAttributeAsync("data-state", "connected", new() { Timeout = 15_000 });

    private static async Task AskAsync(IPage page, string question)
    {
        await page.GetByLabel("Your question").FillAsync(question);
        await page.GetByLabel("Your question").PressAsync("Enter");
    }

    /// <summary>The turns on screen: an alternate that is not shown is in the page, hidden.</summary>
    private static ILocator Turns(IPage page) => page.Locator("[data-testid='turn']:visible");

    private static ILocator Items(IPage page) => page.GetByTestId("conversation-item");

    /// <summary>The list's entry with exactly this title.</summary>
    private static ILocator Item(IPage page, string title) =>
        Items(page).Filter(new LocatorFilterOptions { Has = page.GetByText(title, new() { Exact = true }) });

    /// <summary>
    /// Console errors other than the SignalR client's word that a connection was stopped while it was still being
    /// opened (switching conversations quickly does that, on purpose).
    /// </summary>
    private static List<string> Unexpected(List<string> errors) =>
        errors.Where(e => !e.Contains("negotiation", StringComparison.OrdinalIgnoreCase)
                          && !e.Contains("Failed to start the connection", StringComparison.OrdinalIgnoreCase)).ToList();

    private static Task<int> StoredConversationsAsync(IPage page) =>
        page.EvaluateAsync<int>("JSON.parse(localStorage.getItem('aisystem.conversations') || '[]').length");

    /// <summary>Asks and waits for the answer; a second wait gives the simulated model's 4 s plenty of room.</summary>
    private static async Task AskAndWaitAsync(IPage page, string question)
    {
        var before = await Turns(page).CountAsync();
        await AskAsync(page, question);
        var turn = Turns(page).Nth(before);
        await Assertions.Expect(turn.GetByTestId("turn-question")).ToHaveTextAsync(question);
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
    }

    [Fact]
    public async Task A_follow_up_is_answered_with_the_earlier_answer_and_the_picked_model_is_the_one_asked()
    {
        // The fake model echoes what it was given: how many turns, the question, and its own last answer.
        _gemini.RespondWithEcho();
        _gemini.EventDelay = TimeSpan.Zero;
        var (page, errors) = await OpenAsync();
        await page.GetByLabel("Gemini API key (optional)").FillAsync("AIzaFAKE-page-key");
        var picker = page.GetByTestId("model-select");
        await Assertions.Expect(picker).ToBeVisibleAsync();
        await Assertions.Expect(picker).ToHaveValueAsync("gemini-2.5-flash");

        await AskAndWaitAsync(page, "What is the capital of France?");
        await Assertions.Expect(Turns(page).First.GetByTestId("turn-answer")).ToContainTextAsync("Echo of 1 turn(s). You asked: What is the capital of France?");
        await AskAndWaitAsync(page, "And what is its population?");
        // The second question reached the model after the first question and its answer.
        var answer = Turns(page).Nth(1).GetByTestId("turn-answer");
        await Assertions.Expect(answer).ToContainTextAsync("Echo of 3 turn(s). You asked: And what is its population?");
        await Assertions.Expect(answer).ToContainTextAsync("Before that I said: Echo of 1 turn(s). You asked: What is the capital of France?");
        Assert.Contains("/models/gemini-2.5-flash:", _gemini.Requests[^1].Path);

        // The picker's choice goes with the next question, and a reload remembers it.
        await picker.SelectOptionAsync("gemini-2.5-pro");
        await AskAndWaitAsync(page, "Which model answers this?");
        Assert.Contains("/models/gemini-2.5-pro:", _gemini.Requests[^1].Path);
        await Assertions.Expect(Turns(page).Nth(2).GetByTestId("turn-answer")).ToContainTextAsync("Echo of 5 turn(s).");
        // The answer shows its tokens (the fake response reports 21 in, 9 out).
        await Assertions.Expect(Turns(page).Nth(2).GetByTestId("turn-meta")).ToContainTextAsync(new Regex(@"gemini-2\.5-pro · \d+\.\d s · 21 \+ 9 tokens$"));
        await page.ReloadAsync();
        await ConnectedAsync(page);
        await Assertions.Expect(page.GetByTestId("model-select")).ToHaveValueAsync("gemini-2.5-pro");
        await Assertions.Expect(Turns(page)).ToHaveCountAsync(3);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Stop_mid_stream_keeps_the_text_so_far_marked_Stopped_and_a_reload_shows_it_so()
    {
        _gemini.RespondWithFixture("streaming-success-basic-reply-long.txt");
        var (page, errors) = await OpenAsync();
        await page.GetByLabel("Gemini API key (optional)").FillAsync("AIzaFAKE-page-key");
        var send = page.GetByTestId("send");
        await Assertions.Expect(send).ToHaveTextAsync("Send");
        await AskAsync(page, "Tell me about cats and dogs");

        var turn = Turns(page).First;
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "streaming", new() { Timeout = 15_000 });
        await Assertions.Expect(turn.GetByTestId("turn-answer")).ToContainTextAsync("Okay", new() { Timeout = 10_000 });
        // While the answer is open the Send button is Stop.
        await Assertions.Expect(send).ToHaveTextAsync("Stop");
        await Assertions.Expect(send).ToHaveAccessibleNameAsync(new Regex("^Stop"));
        await send.ClickAsync();

        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "stopped", new() { Timeout = 15_000 });
        await Assertions.Expect(turn.GetByTestId("turn-status")).ToHaveTextAsync("Stopped");
        await Assertions.Expect(send).ToHaveTextAsync("Send");
        var answer = turn.GetByTestId("turn-answer");
        await Assertions.Expect(answer).ToContainTextAsync("Okay, let");
        Assert.DoesNotContain(EndOfLongAnswer, await answer.InnerTextAsync());
        // It is the last turn and over: it can be asked again or edited.
        await Assertions.Expect(turn.GetByTestId("turn-regenerate")).ToBeVisibleAsync();
        await Assertions.Expect(turn.GetByTestId("turn-revise")).ToBeVisibleAsync();

        await page.ReloadAsync();
        await ConnectedAsync(page);
        var restored = Turns(page).First;
        await Assertions.Expect(restored.GetByTestId("turn-question")).ToHaveTextAsync("Tell me about cats and dogs");
        await Assertions.Expect(restored).ToHaveAttributeAsync("data-state", "stopped");
        await Assertions.Expect(restored.GetByTestId("turn-status")).ToHaveTextAsync("Stopped");
        await Assertions.Expect(restored.GetByTestId("turn-answer")).ToContainTextAsync("Okay, let");
        Assert.DoesNotContain(EndOfLongAnswer, await restored.GetByTestId("turn-answer").InnerTextAsync());
        await Assertions.Expect(page.GetByTestId("send")).ToHaveTextAsync("Send");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Repo.Artifacts("screenshots"), "conversation-stopped.png") });
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Esc_stops_the_answer_being_written()
    {
        var (page, errors) = await OpenAsync();
        await AskAsync(page, "Stop me with Esc");
        var turn = Turns(page).First;
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "streaming", new() { Timeout = 15_000 });
        await page.GetByLabel("Your question").PressAsync("Escape");
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "stopped", new() { Timeout = 15_000 });
        await Assertions.Expect(turn.GetByTestId("turn-status")).ToHaveTextAsync("Stopped");
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Regenerate_gives_2_of_2_and_the_pager_goes_back_to_1_of_2_also_after_a_reload()
    {
        var (page, errors) = await OpenAsync();
        await AskAndWaitAsync(page, "Name a colour");
        var first = Turns(page).First;
        var firstId = await first.GetAttributeAsync("data-task-id");
        Assert.Equal(0, await first.GetByTestId("turn-pager").CountAsync());

        await first.GetByTestId("turn-regenerate").ClickAsync();
        // The new turn takes the old one's place: still one turn on screen, "2 of 2".
        var turn = Turns(page);
        await Assertions.Expect(turn).ToHaveCountAsync(1);
        await Assertions.Expect(turn.GetByTestId("pager-label")).ToHaveTextAsync("2 of 2");
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await Assertions.Expect(turn.GetByTestId("turn-question")).ToHaveTextAsync("Name a colour");
        var secondId = await turn.GetAttributeAsync("data-task-id");
        Assert.NotEqual(firstId, secondId);
        await Assertions.Expect(turn.GetByTestId("pager-next")).ToBeDisabledAsync();

        await turn.GetByTestId("pager-prev").ClickAsync();
        await Assertions.Expect(turn.GetByTestId("pager-label")).ToHaveTextAsync("1 of 2");
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-task-id", firstId!);
        await Assertions.Expect(turn.GetByTestId("pager-prev")).ToBeDisabledAsync();
        await Assertions.Expect(turn.GetByTestId("pager-next")).ToBeFocusedAsync();
        await turn.GetByTestId("pager-next").ClickAsync();
        await Assertions.Expect(turn.GetByTestId("pager-label")).ToHaveTextAsync("2 of 2");
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-task-id", secondId!);

        // The server keeps what replaced what: a reload shows the same pager.
        await page.ReloadAsync();
        await ConnectedAsync(page);
        await Assertions.Expect(Turns(page)).ToHaveCountAsync(1);
        await Assertions.Expect(Turns(page).GetByTestId("pager-label")).ToHaveTextAsync("2 of 2");
        await Assertions.Expect(Turns(page)).ToHaveAttributeAsync("data-task-id", secondId!);
        await Turns(page).GetByTestId("pager-prev").ClickAsync();
        await Assertions.Expect(Turns(page)).ToHaveAttributeAsync("data-task-id", firstId!);
        await Assertions.Expect(Turns(page).GetByTestId("pager-label")).ToHaveTextAsync("1 of 2");

        // A regenerate of the regenerated turn chains on: "3 of 3".
        await Turns(page).GetByTestId("turn-regenerate").ClickAsync();
        await Assertions.Expect(Turns(page).GetByTestId("pager-label")).ToHaveTextAsync("3 of 3");
        await Assertions.Expect(Turns(page)).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Edit_changes_the_last_question_in_place_and_sends_it_again()
    {
        var (page, errors) = await OpenAsync();
        await AskAndWaitAsync(page, "What is Docker Swarm?");
        await AskAndWaitAsync(page, "What is 2 + 2?");
        var earlier = Turns(page).First;
        var last = Turns(page).Nth(1);
        // Only the last turn has Edit and Regenerate.
        Assert.Equal(0, await earlier.GetByTestId("turn-revise").CountAsync());
        Assert.Equal(0, await earlier.GetByTestId("turn-regenerate").CountAsync());

        // Esc leaves the edit without sending anything.
        await last.GetByTestId("turn-revise").ClickAsync();
        var box = last.GetByTestId("edit-input");
        await Assertions.Expect(box).ToBeFocusedAsync();
        await Assertions.Expect(box).ToHaveValueAsync("What is 2 + 2?");
        await box.PressAsync("Escape");
        await Assertions.Expect(last.GetByTestId("edit-form")).ToHaveCountAsync(0);
        await Assertions.Expect(last.GetByTestId("turn-question")).ToHaveTextAsync("What is 2 + 2?");
        await Assertions.Expect(last).ToHaveAttributeAsync("data-state", "answered");

        await last.GetByTestId("turn-revise").ClickAsync();
        await last.GetByTestId("edit-input").FillAsync("What is 3 + 3?");
        await last.GetByTestId("edit-send").ClickAsync();

        var turns = Turns(page);
        await Assertions.Expect(turns).ToHaveCountAsync(2);
        var edited = turns.Nth(1);
        await Assertions.Expect(edited.GetByTestId("turn-question")).ToHaveTextAsync("What is 3 + 3?");
        await Assertions.Expect(edited.GetByTestId("pager-label")).ToHaveTextAsync("2 of 2");
        await Assertions.Expect(edited).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await Assertions.Expect(edited.GetByTestId("turn-answer")).ToContainTextAsync("What is 3 + 3?");
        await Assertions.Expect(turns.First.GetByTestId("turn-question")).ToHaveTextAsync("What is Docker Swarm?");

        await edited.GetByTestId("pager-prev").ClickAsync();
        await Assertions.Expect(turns.Nth(1).GetByTestId("turn-question")).ToHaveTextAsync("What is 2 + 2?");
        await Assertions.Expect(turns.Nth(1).GetByTestId("pager-label")).ToHaveTextAsync("1 of 2");
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Two_conversations_switched_back_and_forth_while_both_stream_never_mix_their_answers()
    {
        var (page, errors) = await OpenAsync();
        await AskAsync(page, "Question of the first conversation");
        await Assertions.Expect(Turns(page).First).ToHaveAttributeAsync("data-state", "streaming", new() { Timeout = 15_000 });
        await Assertions.Expect(Item(page, "Question of the first conversation")).ToHaveCountAsync(1);

        await page.GetByTestId("new-conversation").ClickAsync();
        await ConnectedAsync(page);
        await Assertions.Expect(Turns(page)).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("#empty-hint")).ToBeVisibleAsync();
        await AskAsync(page, "Question of the second conversation");
        await Assertions.Expect(Turns(page).First).ToHaveAttributeAsync("data-state", "streaming", new() { Timeout = 15_000 });
        await Assertions.Expect(Items(page)).ToHaveCountAsync(2);
        await Poll.UntilAsync(async () => await StoredConversationsAsync(page) == 2, TimeSpan.FromSeconds(10), "two stored conversations");

        // Back to the first while the second streams: only the first's turn, its answer, nothing of the second.
        var log = page.Locator("#conversation");
        await Item(page, "Question of the first conversation").GetByTestId("conversation-open").ClickAsync();
        await ConnectedAsync(page);
        await Assertions.Expect(Item(page, "Question of the first conversation")).ToHaveAttributeAsync("data-current", "true");
        await Assertions.Expect(page.GetByTestId("current-title")).ToHaveTextAsync("Question of the first conversation");
        await Assertions.Expect(Turns(page)).ToHaveCountAsync(1);
        await Assertions.Expect(Turns(page).GetByTestId("turn-question")).ToHaveTextAsync("Question of the first conversation");
        await Assertions.Expect(Turns(page)).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await Assertions.Expect(Turns(page).GetByTestId("turn-answer")).ToContainTextAsync("Question of the first conversation");
        await Assertions.Expect(log).Not.ToContainTextAsync("second conversation");

        // And to the second again: its answer finished while the page was away, and the history brings it.
        await Item(page, "Question of the second conversation").GetByTestId("conversation-open").ClickAsync();
        await ConnectedAsync(page);
        await Assertions.Expect(Turns(page)).ToHaveCountAsync(1);
        await Assertions.Expect(Turns(page).GetByTestId("turn-question")).ToHaveTextAsync("Question of the second conversation");
        await Assertions.Expect(Turns(page)).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await Assertions.Expect(Turns(page).GetByTestId("turn-answer")).ToContainTextAsync("Question of the second conversation");
        await Assertions.Expect(log).Not.ToContainTextAsync("first conversation");

        // Quick switches while a new answer streams in the second: still no mixing once things settle.
        await AskAsync(page, "Another question of the second conversation");
        await Assertions.Expect(Turns(page).Nth(1)).ToHaveAttributeAsync("data-state", "streaming", new() { Timeout = 15_000 });
        await Item(page, "Question of the first conversation").GetByTestId("conversation-open").ClickAsync();
        await Item(page, "Question of the second conversation").GetByTestId("conversation-open").ClickAsync();
        await Item(page, "Question of the first conversation").GetByTestId("conversation-open").ClickAsync();
        await ConnectedAsync(page);
        await Assertions.Expect(Turns(page)).ToHaveCountAsync(1);
        await Assertions.Expect(Turns(page).GetByTestId("turn-question")).ToHaveTextAsync("Question of the first conversation");
        await Assertions.Expect(log).Not.ToContainTextAsync("second conversation");

        // A reload opens the conversation the page was on.
        await page.ReloadAsync();
        await ConnectedAsync(page);
        await Assertions.Expect(Turns(page).GetByTestId("turn-question")).ToHaveTextAsync("Question of the first conversation");
        await Assertions.Expect(Items(page)).ToHaveCountAsync(2);
        await Item(page, "Question of the second conversation").GetByTestId("conversation-open").ClickAsync();
        await ConnectedAsync(page);
        await Assertions.Expect(Turns(page)).ToHaveCountAsync(2);
        await Assertions.Expect(Turns(page).Nth(1)).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await Assertions.Expect(Turns(page).Nth(1).GetByTestId("turn-answer")).ToContainTextAsync("Another question of the second conversation");
        await Assertions.Expect(log).Not.ToContainTextAsync("first conversation");
        Assert.Empty(Unexpected(errors));
    }

    [Fact]
    public async Task A_conversation_is_renamed_in_place_and_deleted_from_the_list_for_good()
    {
        var (page, errors) = await OpenAsync();
        await AskAndWaitAsync(page, "Conversation to rename");
        await page.GetByTestId("new-conversation").ClickAsync();
        await ConnectedAsync(page);
        await AskAndWaitAsync(page, "Conversation to keep");
        await Assertions.Expect(Items(page)).ToHaveCountAsync(2);

        // Rename: in place, Enter keeps it; it survives a reload.
        var item = Item(page, "Conversation to rename");
        await item.GetByTestId("conversation-rename").ClickAsync();
        var input = page.GetByTestId("conversation-rename-input");
        await Assertions.Expect(input).ToBeFocusedAsync();
        await input.FillAsync("Renamed conversation");
        await input.PressAsync("Enter");
        await Assertions.Expect(Item(page, "Renamed conversation")).ToHaveCountAsync(1);
        await Assertions.Expect(Item(page, "Conversation to rename")).ToHaveCountAsync(0);
        await page.ReloadAsync();
        await ConnectedAsync(page);
        await Assertions.Expect(Item(page, "Renamed conversation")).ToHaveCountAsync(1);

        // Delete (not the one on screen): it asks first, then the conversation is gone from the list, also on reload.
        await Item(page, "Renamed conversation").GetByTestId("conversation-delete").ClickAsync();
        var dialog = page.Locator("#delete-dialog");
        await Assertions.Expect(dialog).ToBeVisibleAsync();
        await Assertions.Expect(dialog.GetByTestId("delete-dialog-name")).ToHaveTextAsync("“Renamed conversation”");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Delete conversation" }).ClickAsync();
        await Assertions.Expect(Item(page, "Renamed conversation")).ToHaveCountAsync(0, new() { Timeout = 30_000 });
        await Assertions.Expect(Items(page)).ToHaveCountAsync(1);
        await Assertions.Expect(page.GetByTestId("notice")).ToHaveTextAsync("The conversation was deleted.");
        // The conversation on screen is untouched.
        await Assertions.Expect(Turns(page).GetByTestId("turn-question")).ToHaveTextAsync("Conversation to keep");
        await page.ReloadAsync();
        await ConnectedAsync(page);
        await Assertions.Expect(Item(page, "Renamed conversation")).ToHaveCountAsync(0);
        await Assertions.Expect(Item(page, "Conversation to keep")).ToHaveCountAsync(1);
        Assert.Equal(1, await StoredConversationsAsync(page));
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Export_downloads_the_conversation_as_Markdown()
    {
        var (page, errors) = await OpenAsync();
        await Assertions.Expect(page.GetByTestId("export")).ToBeDisabledAsync();
        await AskAndWaitAsync(page, "Export this question");

        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByTestId("export").ClickAsync());
        Assert.Matches(@"^conversation-\d{4}-\d{2}-\d{2}\.md$", download.SuggestedFilename);
        var markdown = await File.ReadAllTextAsync((await download.PathAsync())!);
        Assert.StartsWith("# Export this question\n", markdown);
        Assert.Contains("> Export this question", markdown);
        Assert.Contains("### Answer", markdown);
        Assert.Contains("Simulated answer", markdown);
        Assert.Matches(@"\*page-worker-\d · simulated · \d+\.\d s", markdown);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Screenshots_of_the_side_panel_in_light_and_dark_on_desktop_and_phone()
    {
        var (page, errors) = await OpenAsync(1280, 800);
        await AskAndWaitAsync(page, "How do I scale a service in Docker Swarm?");
        await page.GetByTestId("new-conversation").ClickAsync();
        await ConnectedAsync(page);
        await AskAndWaitAsync(page, "Explain Rayleigh scattering in one paragraph");
        await page.GetByTestId("new-conversation").ClickAsync();
        await ConnectedAsync(page);
        await AskAndWaitAsync(page, "What is **Markdown**, in one sentence?");
        await Turns(page).First.GetByTestId("turn-regenerate").ClickAsync();
        await Assertions.Expect(Turns(page).First).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await Assertions.Expect(Items(page)).ToHaveCountAsync(3);

        var dirs = new[] { Repo.Artifacts("screenshots"), Path.Combine(Repo.Root, "docs", "screenshots") };
        Directory.CreateDirectory(dirs[1]);
        async Task ShotAsync(string file)
        {
            var path = Path.Combine(dirs[0], file);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, Animations = ScreenshotAnimations.Disabled });
            File.Copy(path, Path.Combine(dirs[1], file), overwrite: true);
        }

        var sidebar = page.GetByTestId("sidebar");
        var toggle = page.GetByTestId("sidebar-toggle");
        foreach (var (scheme, name) in new[] { (ColorScheme.Light, "light"), (ColorScheme.Dark, "dark") })
        {
            await page.EmulateMediaAsync(new PageEmulateMediaOptions { ColorScheme = scheme });
            await page.SetViewportSizeAsync(1280, 800);
            // On a desktop the panel sits beside the chat and the drawer's toggle is not there.
            await Assertions.Expect(sidebar).ToBeVisibleAsync();
            await Assertions.Expect(toggle).ToBeHiddenAsync();
            await ShotAsync($"conversations-desktop-{name}.png");

            // On a phone it is a drawer: closed until the toggle opens it; Esc closes it and the focus goes back.
            await page.SetViewportSizeAsync(390, 844);
            await Assertions.Expect(sidebar).ToBeHiddenAsync();
            await toggle.ClickAsync();
            await Assertions.Expect(toggle).ToHaveAttributeAsync("aria-expanded", "true");
            await Assertions.Expect(sidebar).ToBeVisibleAsync();
            await Assertions.Expect(Items(page).First.GetByTestId("conversation-open")).ToBeFocusedAsync();
            Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"));
            await ShotAsync($"conversations-phone-{name}.png");
            await page.Keyboard.PressAsync("Escape");
            await Assertions.Expect(sidebar).ToBeHiddenAsync();
            await Assertions.Expect(toggle).ToBeFocusedAsync();
            await Assertions.Expect(toggle).ToHaveAttributeAsync("aria-expanded", "false");
        }

        // Choosing a conversation in the drawer opens it and closes the drawer.
        await toggle.ClickAsync();
        await Item(page, "How do I scale a service in Docker Swarm?").GetByTestId("conversation-open").ClickAsync();
        await Assertions.Expect(sidebar).ToBeHiddenAsync();
        await ConnectedAsync(page);
        await Assertions.Expect(Turns(page).GetByTestId("turn-question")).ToHaveTextAsync("How do I scale a service in Docker Swarm?");

        // The phone layout keeps every control reachable, and every control has an accessible name.
        Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"));
        var unnamed = await page.EvaluateAsync<string[]>("""
            Array.from(document.querySelectorAll('button, input, textarea, select, a[href]'))
              .filter(e => !(e.getAttribute('aria-label') || e.labels?.length || e.textContent.trim()))
              .map(e => e.outerHTML)
            """);
        Assert.Empty(unnamed);
        Assert.Empty(errors);
    }
}
