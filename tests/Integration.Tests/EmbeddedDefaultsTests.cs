using AiSystem.Integration.Tests.Infrastructure;
using AiSystem.Worker.Tests;

namespace AiSystem.Integration.Tests;

/// <summary>
/// The master alone, as the README's run command starts it: embedded broker, in-process workers, no key. And the
/// same system answering through Gemini (a local fake serving recorded bodies) with a key typed in the browser.
/// </summary>
public sealed class EmbeddedDefaultsTests : IAsyncLifetime
{
    private const string BrowserKey = "AIzaTEST-browser-key-7f3e9c";
    private FakeGeminiServer _gemini = null!;
    private MasterProcess? _master;
    private readonly List<ChatClient> _browsers = [];

    public async Task InitializeAsync() => _gemini = await FakeGeminiServer.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var b in _browsers) await b.DisposeAsync();
        if (_master is not null) await _master.DisposeAsync();
        await _gemini.DisposeAsync();
    }

    private async Task<ChatClient> StartAsync()
    {
        _master = await MasterProcess.StartAsync(broker: null, localWorkers: 2, new Dictionary<string, string?>
        {
            ["Gemini__BaseUrl"] = _gemini.BaseUrl.ToString(),
        });
        await _master.WaitForWorkersAsync(2);
        var browser = await ChatClient.ConnectAsync(_master.BaseUrl);
        _browsers.Add(browser);
        return browser;
    }

    [Fact]
    public async Task Without_a_key_the_embedded_system_answers_with_the_simulated_model()
    {
        var browser = await StartAsync();
        var workers = await _master!.WorkersAsync();
        Assert.All(workers, w => Assert.StartsWith("csharp-local-", w.Str("id")));

        var reply = await browser.SubmitAsync("What is Docker Swarm?");
        await Poll.UntilAsync(() => browser.Answers.Count == 1, TimeSpan.FromSeconds(30), "the answer", () => _master.Process.Tail());

        var answer = browser.Answers[0];
        Assert.Equal(reply.Str("taskId"), answer.Str("taskId"));
        Assert.Equal("simulated", answer.Str("provider"));
        Assert.Contains("Simulated", answer.Str("response"));
        Assert.Contains("What is Docker Swarm?", answer.Str("response"));
        Assert.Empty(_gemini.Requests); // no key: Gemini is never called
    }

    [Fact]
    public async Task With_a_key_from_the_browser_the_answer_comes_from_Gemini_and_the_key_goes_nowhere_else()
    {
        _gemini.RespondWithFixture("streaming-success-basic-reply-short.txt");
        var browser = await StartAsync();

        await browser.SubmitAsync("Where is Google's headquarters?", BrowserKey);
        await Poll.UntilAsync(() => browser.Answers.Count == 1, TimeSpan.FromSeconds(30), "the Gemini answer", () => _master!.Process.Tail());

        var answer = browser.Answers[0];
        Assert.Equal("The capital of Wyoming is **Cheyenne**.\n", answer.Str("response")); // the streamed pieces, whole
        Assert.Equal("gemini:gemini-2.5-flash", answer.Str("provider"));
        var request = Assert.Single(_gemini.Requests);
        Assert.Equal(BrowserKey, request.Header("x-goog-api-key"));
        Assert.Contains("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", request.PathAndQuery);
        Assert.NotEmpty(browser.Payloads("AiResponseChunk")); // and the browser saw it arrive in pieces first
        Assert.Contains("headquarters?", request.Body);

        // An invalid key is a clear failure for the user, not a crash and not an empty answer.
        _gemini.RespondWithFixture("unary-failure-api-key.json");
        await browser.SubmitAsync("And now with a bad key?", BrowserKey);
        await Poll.UntilAsync(() => browser.Payloads("TaskFailed").Count == 1, TimeSpan.FromSeconds(30), "the failure", () => _master!.Process.Tail());
        Assert.Contains("API key was rejected", browser.Payloads("TaskFailed")[0].Str("error"));

        var leaked = _master!.Process.Output.Split('\n').Where(l => l.Contains(BrowserKey)).ToList();
        Assert.True(leaked.Count == 0, "The key leaked into the log:\n" + string.Join('\n', leaked));
        Assert.DoesNotContain(BrowserKey, string.Join("", browser.Events.Select(e => e.Payload.GetRawText())));
    }
}
