using AiSystem.Integration.Tests.Infrastructure;
using Microsoft.Playwright;

namespace AiSystem.Integration.Tests;

/// <summary>The chat page in Debian's Chromium, driven by Playwright, against the master as the README runs it.</summary>
public sealed class BrowserTests : IAsyncLifetime
{
    private MasterProcess _master = null!;
    private Chromium _chromium = null!;
    private IBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        _master = await MasterProcess.StartAsync(broker: null, localWorkers: 2);
        await _master.WaitForWorkersAsync(2);
        _chromium = await Chromium.LaunchAsync();
        _browser = _chromium.Browser;
    }

    public async Task DisposeAsync()
    {
        await _chromium.DisposeAsync();
        await _master.DisposeAsync();
    }

    [Fact]
    public async Task A_question_typed_in_the_page_is_answered_and_shown_as_text()
    {
        var page = await _browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1100, Height = 800 } });
        var consoleErrors = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") consoleErrors.Add(m.Text); };

        await page.GotoAsync(_master.BaseUrl);
        await Assertions.Expect(page.Locator("#connection-state")).ToHaveAttributeAsync("data-state", "connected");
        Assert.Equal("AiSystem chat", await page.TitleAsync());

        // A question whose answer would be markup if it were rendered as HTML.
        const string question = "Is <b>this</b> bold?";
        await page.GetByLabel("Your question").FillAsync(question);
        await page.GetByLabel("Your question").PressAsync("Enter");

        var turn = page.Locator("article.turn").First;
        await Assertions.Expect(turn).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        await Assertions.Expect(turn.Locator(".question")).ToHaveTextAsync(question);
        var answer = await turn.Locator(".answer").InnerTextAsync();
        Assert.Contains("Simulated", answer);
        Assert.Contains(question, answer); // the tags arrive as literal text...
        Assert.Equal(0, await turn.Locator(".answer b").CountAsync()); // ...and never as elements
        var meta = await turn.Locator(".meta").InnerTextAsync();
        Assert.Contains("csharp-local-", meta);
        Assert.Contains("simulated", meta);
        Assert.False(string.IsNullOrEmpty(await turn.GetAttributeAsync("data-task-id")));

        // Focus stays in the box and it is empty, ready for the next question.
        Assert.Equal("query", await page.EvaluateAsync<string>("document.activeElement.id"));
        Assert.Equal("", await page.InputValueAsync("#query"));

        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Repo.Artifacts("screenshots"), "chat-answered.png"), FullPage = true });
        Assert.Empty(consoleErrors);
    }

    [Fact]
    public async Task The_conversation_is_still_there_after_a_reload()
    {
        var page = await _browser.NewPageAsync();
        await page.GotoAsync(_master.BaseUrl);
        await Assertions.Expect(page.Locator("#connection-state")).ToHaveAttributeAsync("data-state", "connected");
        await page.GetByLabel("Your question").FillAsync("Remember me?");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        await Assertions.Expect(page.Locator("article.turn").First).ToHaveAttributeAsync("data-state", "answered", new() { Timeout = 30_000 });
        var sessionId = await page.EvaluateAsync<string>("localStorage.getItem('aisystem.sessionId')");
        Assert.False(string.IsNullOrEmpty(sessionId));

        await page.ReloadAsync();

        await Assertions.Expect(page.Locator("#connection-state")).ToHaveAttributeAsync("data-state", "connected");
        var restored = page.Locator("article.turn").First;
        await Assertions.Expect(restored).ToHaveAttributeAsync("data-state", "answered");
        await Assertions.Expect(restored.Locator(".question")).ToHaveTextAsync("Remember me?");
        Assert.Equal(sessionId, await page.EvaluateAsync<string>("localStorage.getItem('aisystem.sessionId')"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Repo.Artifacts("screenshots"), "chat-restored.png") });
    }
}
