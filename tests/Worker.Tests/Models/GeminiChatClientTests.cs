using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using AiSystem.Worker.Models;
using Microsoft.Extensions.AI;

namespace AiSystem.Worker.Tests;

public sealed class GeminiChatClientTests : IAsyncLifetime, IDisposable
{
    private const string Key = "AIzaTEST-secret-key-123";
    private const string Model = "gemini-2.5-flash";

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private FakeGeminiServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeGeminiServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => _http.Dispose();

    private GeminiChatClient Client(string model = Model) => new(_http, _server.BaseUrl, Key, model);

    private static List<ChatMessage> Question(string text = "Where is Google's headquarters?") => [new(ChatRole.User, text)];

    // ---------- unary fixtures ----------

    [Fact]
    public async Task Unary_short_reply_returns_text_usage_model_and_finish_reason()
    {
        _server.RespondWithFixture("unary-success-basic-reply-short.json");

        var response = await Client().GetResponseAsync(Question());

        Assert.Equal("Google's headquarters, also known as the Googleplex, is located in **Mountain View, California**.\n", response.Text);
        Assert.Equal("gemini-2.0-flash", response.ModelId); // modelVersion from the body
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.NotNull(response.Usage);
        Assert.Equal(7, response.Usage.InputTokenCount);
        Assert.Equal(22, response.Usage.OutputTokenCount);
        Assert.Equal(29, response.Usage.TotalTokenCount);
        Assert.Equal(ChatRole.Assistant, Assert.Single(response.Messages).Role);
    }

    [Fact]
    public async Task Unary_long_reply_returns_the_whole_text()
    {
        _server.RespondWithFixture("unary-success-basic-reply-long.json");

        var response = await Client().GetResponseAsync(Question("How do I make good coffee at home?"));

        Assert.StartsWith("Making professional-quality coffee at home is achievable", response.Text, StringComparison.Ordinal);
        Assert.Contains("**2. Grinding: Consistency is Crucial**", response.Text, StringComparison.Ordinal);
        Assert.Contains("between 195-205°F (90-96°C)", response.Text, StringComparison.Ordinal);
        Assert.EndsWith("*   **Pour Over (e.g., Hario V60, Chemex):**\n", response.Text, StringComparison.Ordinal);
        Assert.Equal(1612, response.Usage?.OutputTokenCount);
        Assert.Equal(1621, response.Usage?.TotalTokenCount);
    }

    [Fact]
    public async Task Unary_thinking_reply_drops_the_thought_parts()
    {
        _server.RespondWithFixture("unary-success-thinking-reply-thought-summary.json");

        var response = await Client().GetResponseAsync(Question());

        Assert.Equal("Mountain View", response.Text);
        Assert.DoesNotContain("Thinking About", response.Text, StringComparison.Ordinal);
        Assert.Equal("gemini-2.5-flash", response.ModelId);
        Assert.Equal("2pmHaJqQEoqC-8YP6eStyAY", response.ResponseId);
        Assert.Equal(24, response.Usage?.ReasoningTokenCount);
        Assert.Equal(40, response.Usage?.TotalTokenCount);
    }

    [Fact]
    public async Task Unary_invalid_key_400_is_InvalidKey_and_not_retryable()
    {
        _server.RespondWithFixture("unary-failure-api-key.json");

        var ex = await Assert.ThrowsAsync<ModelException>(() => Client().GetResponseAsync(Question()));

        Assert.Equal(ModelErrorKind.InvalidKey, ex.Kind);
        Assert.Equal(400, ex.StatusCode);
        Assert.False(ex.Retryable);
        Assert.Equal(
            "The Gemini API key was rejected. Check the key in the settings or leave it empty to use the server's key.",
            ex.UserMessage);
        Assert.DoesNotContain("key1234", ex.ToString(), StringComparison.Ordinal); // DebugInfo detail is never copied
        AssertNoKey(ex);
    }

    [Fact]
    public async Task Unary_unknown_model_404_names_the_model()
    {
        _server.RespondWithFixture("unary-failure-unknown-model.json");

        var ex = await Assert.ThrowsAsync<ModelException>(() => Client("gemini-5.0-flash").GetResponseAsync(Question()));

        Assert.Equal(ModelErrorKind.UnknownModel, ex.Kind);
        Assert.Equal(404, ex.StatusCode);
        Assert.False(ex.Retryable);
        Assert.Contains("gemini-5.0-flash", ex.UserMessage, StringComparison.Ordinal);
        Assert.Equal("/v1beta/models/gemini-5.0-flash:generateContent", Assert.Single(_server.Requests).Path);
        AssertNoKey(ex);
    }

    [Fact]
    public async Task Unary_quota_429_is_Quota_with_RetryAfter_from_RetryInfo()
    {
        _server.RespondWithFixture("unary-failure-quota-429.json");

        var ex = await Assert.ThrowsAsync<ModelException>(() => Client().GetResponseAsync(Question()));

        Assert.Equal(ModelErrorKind.Quota, ex.Kind);
        Assert.Equal(429, ex.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(26), ex.RetryAfter);
        Assert.True(ex.Retryable);
        Assert.Contains("quota", ex.UserMessage, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("later", ex.UserMessage, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("26 seconds", ex.UserMessage, StringComparison.Ordinal);
        AssertNoKey(ex);
    }

    [Fact]
    public async Task Unary_overloaded_503_is_Overloaded_and_retryable()
    {
        _server.RespondWithFixture("unary-failure-overloaded-503.json");

        var ex = await Assert.ThrowsAsync<ModelException>(() => Client().GetResponseAsync(Question()));

        Assert.Equal(ModelErrorKind.Overloaded, ex.Kind);
        Assert.Equal(503, ex.StatusCode);
        Assert.True(ex.Retryable);
        Assert.Null(ex.RetryAfter);
        Assert.Equal("The Gemini model is overloaded right now. Try again in a moment.", ex.UserMessage);
        Assert.Equal("The model is overloaded. Please try again later.", ex.Detail);
        AssertNoKey(ex);
    }

    [Fact]
    public async Task Unary_finish_reason_safety_is_Blocked_even_with_partial_text()
    {
        _server.RespondWithFixture("unary-failure-finish-reason-safety.json");

        var ex = await Assert.ThrowsAsync<ModelException>(() => Client().GetResponseAsync(Question()));

        Assert.Equal(ModelErrorKind.Blocked, ex.Kind);
        Assert.False(ex.Retryable);
        Assert.Equal("Gemini declined to answer this question (blocked for safety). Try rephrasing it.", ex.UserMessage);
        Assert.DoesNotContain("Safety error incoming", ex.ToString(), StringComparison.Ordinal);
        AssertNoKey(ex);
    }

    [Fact]
    public async Task Unary_only_prompt_feedback_is_Blocked()
    {
        _server.RespondWithFixture("unary-failure-only-prompt-feedback.json");

        var ex = await Assert.ThrowsAsync<ModelException>(() => Client().GetResponseAsync(Question()));

        Assert.Equal(ModelErrorKind.Blocked, ex.Kind);
        Assert.False(ex.Retryable);
        AssertNoKey(ex);
    }

    [Fact]
    public async Task Fixture_statuses_follow_the_error_code()
    {
        Assert.Equal(400, FakeGeminiServer.StatusFor("unary-failure-api-key.json"));
        Assert.Equal(404, FakeGeminiServer.StatusFor("unary-failure-unknown-model.json"));
        Assert.Equal(429, FakeGeminiServer.StatusFor("unary-failure-quota-429.json"));
        Assert.Equal(503, FakeGeminiServer.StatusFor("unary-failure-overloaded-503.json"));
        Assert.Equal(200, FakeGeminiServer.StatusFor("unary-failure-finish-reason-safety.json"));
        Assert.Equal(200, FakeGeminiServer.StatusFor("unary-failure-only-prompt-feedback.json"));
        Assert.Equal(200, FakeGeminiServer.StatusFor("streaming-success-basic-reply-short.txt"));

        _server.RespondWithFixture("unary-failure-quota-429.json");
        using var raw = await _http.PostAsync(new Uri(_server.BaseUrl, "v1beta/models/x:generateContent"), new StringContent("{}"));
        Assert.Equal(HttpStatusCode.TooManyRequests, raw.StatusCode);
    }

    [Fact]
    public async Task Unary_empty_answer_without_reason_is_Other_not_a_silent_empty_string()
    {
        _server.Respond(200, """{"candidates":[{"content":{"role":"model","parts":[]},"finishReason":"STOP"}]}""");

        var ex = await Assert.ThrowsAsync<ModelException>(() => Client().GetResponseAsync(Question()));

        Assert.Equal(ModelErrorKind.Other, ex.Kind);
        Assert.StartsWith("The model returned an empty answer", ex.UserMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unary_body_that_is_not_json_is_Other()
    {
        _server.Respond(200, "<html>proxy error</html>", "text/html");

        var ex = await Assert.ThrowsAsync<ModelException>(() => Client().GetResponseAsync(Question()));

        Assert.Equal(ModelErrorKind.Other, ex.Kind);
    }

    // ---------- the request ----------

    [Fact]
    public async Task Request_sends_the_key_only_in_the_header_and_the_model_in_the_path()
    {
        _server.RespondWithFixture("unary-success-basic-reply-short.json");

        await Client().GetResponseAsync(Question());

        var request = Assert.Single(_server.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal($"/v1beta/models/{Model}:generateContent", request.Path);
        Assert.Equal(string.Empty, request.QueryString);
        Assert.Equal(Key, request.Header("x-goog-api-key"));
        Assert.DoesNotContain(Key, request.PathAndQuery, StringComparison.Ordinal);
        Assert.DoesNotContain("key=", request.PathAndQuery, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Key, request.Body, StringComparison.Ordinal);
        Assert.StartsWith("application/json", request.Header("Content-Type"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_body_maps_roles_system_instruction_and_generation_config()
    {
        _server.RespondWithFixture("unary-success-basic-reply-short.json");
        List<ChatMessage> messages =
        [
            new(ChatRole.System, "Answer briefly."),
            new(ChatRole.User, "Hi"),
            new(ChatRole.Assistant, "Hello!"),
            new(ChatRole.User, "Where is Google's headquarters?"),
        ];
        var options = new ChatOptions { ModelId = "gemini-2.0-flash", Temperature = 0.5f, MaxOutputTokens = 256 };

        await Client().GetResponseAsync(messages, options);

        var request = Assert.Single(_server.Requests);
        Assert.Equal("/v1beta/models/gemini-2.0-flash:generateContent", request.Path); // ModelId overrides the model

        using var body = JsonDocument.Parse(request.Body);
        var root = body.RootElement;
        var contents = root.GetProperty("contents").EnumerateArray().ToList();
        Assert.Equal(new[] { "user", "model", "user" }, contents.Select(c => c.GetProperty("role").GetString()));
        Assert.Equal("Hi", contents[0].GetProperty("parts")[0].GetProperty("text").GetString());
        Assert.Equal("Hello!", contents[1].GetProperty("parts")[0].GetProperty("text").GetString());
        Assert.Equal("Where is Google's headquarters?", contents[2].GetProperty("parts")[0].GetProperty("text").GetString());
        Assert.Equal("Answer briefly.", root.GetProperty("systemInstruction").GetProperty("parts")[0].GetProperty("text").GetString());
        var config = root.GetProperty("generationConfig");
        Assert.Equal(0.5, config.GetProperty("temperature").GetDouble(), 3);
        Assert.Equal(256, config.GetProperty("maxOutputTokens").GetInt32());
        Assert.False(config.TryGetProperty("topK", out _)); // nulls are not sent
    }

    [Fact]
    public async Task Request_without_options_has_no_generation_config_or_system_instruction()
    {
        _server.RespondWithFixture("unary-success-basic-reply-short.json");

        await Client().GetResponseAsync(Question());

        using var body = JsonDocument.Parse(Assert.Single(_server.Requests).Body);
        Assert.False(body.RootElement.TryGetProperty("generationConfig", out _));
        Assert.False(body.RootElement.TryGetProperty("systemInstruction", out _));
        Assert.Single(body.RootElement.GetProperty("contents").EnumerateArray());
    }

    // ---------- streaming fixtures ----------

    [Fact]
    public async Task Streaming_short_reply_yields_each_chunk()
    {
        _server.RespondWithFixture("streaming-success-basic-reply-short.txt");

        var updates = await Collect(Client().GetStreamingResponseAsync(Question("What is the capital of Wyoming?")));

        Assert.Equal(new[] { "The", " capital of Wyoming", " is **Cheyenne**.\n" }, TextUpdates(updates));
        Assert.Equal("The capital of Wyoming is **Cheyenne**.\n", string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
        var usage = Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>()).Details;
        Assert.Equal(7, usage.InputTokenCount);
        Assert.Equal(10, usage.OutputTokenCount);
        Assert.Equal(17, usage.TotalTokenCount);

        var request = Assert.Single(_server.Requests);
        Assert.Equal($"/v1beta/models/{Model}:streamGenerateContent", request.Path);
        Assert.Equal("?alt=sse", request.QueryString);
        Assert.Equal(Key, request.Header("x-goog-api-key"));
        Assert.DoesNotContain(Key, request.PathAndQuery, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streaming_long_reply_concatenates_all_chunks()
    {
        _server.RespondWithFixture("streaming-success-basic-reply-long.txt");

        var updates = await Collect(Client().GetStreamingResponseAsync(Question("Tell me about cats and dogs.")));
        var text = string.Concat(updates.Select(u => u.Text));

        Assert.Equal(36, TextUpdates(updates).Count);
        Assert.Equal(ExpectedStreamText("streaming-success-basic-reply-long.txt"), text);
        Assert.StartsWith("Okay, let's dive into the world of cats and dogs!", text, StringComparison.Ordinal);
        Assert.Contains("Domestication is thought to have begun around 9,500 years ago", text, StringComparison.Ordinal);
        Assert.EndsWith("training techniques, or health conditions.\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streaming_thinking_reply_skips_thought_chunks()
    {
        _server.RespondWithFixture("streaming-success-thinking-reply-thought-summary.txt");

        var updates = await Collect(Client().GetStreamingResponseAsync(Question("Why is the sky blue?")));
        var text = string.Concat(updates.Select(u => u.Text));

        Assert.Equal(2, TextUpdates(updates).Count);
        Assert.Equal(
            "The sky is blue because tiny gas molecules in Earth's atmosphere scatter blue light from the sun more efficiently than other colors." +
            " Blue light has shorter, smaller wavelengths, causing it to be scattered in all directions, making the sky appear blue to our eyes.",
            text);
        Assert.DoesNotContain("Exploring Sky Color", text, StringComparison.Ordinal);
        Assert.All(updates, u => Assert.Equal("gemini-2.5-flash", u.ModelId));
    }

    [Fact]
    public async Task Streaming_prompt_blocked_is_Blocked()
    {
        _server.RespondWithFixture("streaming-failure-prompt-blocked-safety.txt");

        var ex = await Assert.ThrowsAsync<ModelException>(() => Collect(Client().GetStreamingResponseAsync(Question())));

        Assert.Equal(ModelErrorKind.Blocked, ex.Kind);
        Assert.False(ex.Retryable);
        Assert.Contains("SAFETY", ex.Detail, StringComparison.Ordinal);
        AssertNoKey(ex);
    }

    [Fact]
    public async Task Streaming_safety_finish_inside_the_stream_is_Blocked()
    {
        _server.Respond(200,
            "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Sure, \"}],\"role\": \"model\"}}]}\r\n\r\n" +
            "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"here\"}],\"role\": \"model\"},\"finishReason\": \"SAFETY\"}]}\r\n\r\n",
            "text/event-stream");

        var received = new List<string>();
        var ex = await Assert.ThrowsAsync<ModelException>(async () =>
        {
            await foreach (var update in Client().GetStreamingResponseAsync(Question()))
            {
                received.Add(update.Text);
            }
        });

        Assert.Equal(ModelErrorKind.Blocked, ex.Kind);
        Assert.Equal(new[] { "Sure, " }, received);
    }

    [Theory]
    [InlineData("unary-failure-api-key.json", ModelErrorKind.InvalidKey)]
    [InlineData("unary-failure-unknown-model.json", ModelErrorKind.UnknownModel)]
    [InlineData("unary-failure-quota-429.json", ModelErrorKind.Quota)]
    [InlineData("unary-failure-overloaded-503.json", ModelErrorKind.Overloaded)]
    public async Task Streaming_http_errors_before_the_stream_map_like_unary(string fixture, ModelErrorKind kind)
    {
        _server.RespondWithFixture(fixture);

        var ex = await Assert.ThrowsAsync<ModelException>(() => Collect(Client().GetStreamingResponseAsync(Question())));

        Assert.Equal(kind, ex.Kind);
        Assert.Equal(FakeGeminiServer.StatusFor(fixture), ex.StatusCode);
        if (kind == ModelErrorKind.Quota)
        {
            Assert.Equal(TimeSpan.FromSeconds(26), ex.RetryAfter);
        }

        AssertNoKey(ex);
    }

    [Fact]
    public async Task Streaming_without_any_text_is_Other()
    {
        _server.Respond(200, "data: {\"candidates\": [{\"content\": {\"parts\": [],\"role\": \"model\"},\"finishReason\": \"STOP\"}]}\n\n", "text/event-stream");

        var ex = await Assert.ThrowsAsync<ModelException>(() => Collect(Client().GetStreamingResponseAsync(Question())));

        Assert.Equal(ModelErrorKind.Other, ex.Kind);
        Assert.StartsWith("The model returned an empty answer", ex.UserMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streaming_error_event_inside_the_stream_is_mapped()
    {
        _server.Respond(200, "data: {\"error\": {\"code\": 503, \"message\": \"The model is overloaded.\", \"status\": \"UNAVAILABLE\"}}\n\n", "text/event-stream");

        var ex = await Assert.ThrowsAsync<ModelException>(() => Collect(Client().GetStreamingResponseAsync(Question())));

        Assert.Equal(ModelErrorKind.Overloaded, ex.Kind);
    }

    // ---------- keys never leak ----------

    [Theory]
    [InlineData(400, "INVALID_ARGUMENT", ModelErrorKind.Other)]
    [InlineData(403, "PERMISSION_DENIED", ModelErrorKind.InvalidKey)]
    [InlineData(404, "NOT_FOUND", ModelErrorKind.UnknownModel)]
    [InlineData(429, "RESOURCE_EXHAUSTED", ModelErrorKind.Quota)]
    [InlineData(500, "INTERNAL", ModelErrorKind.Overloaded)]
    public async Task Error_bodies_that_echo_the_key_do_not_leak_it(int status, string rpcStatus, ModelErrorKind kind)
    {
        var body =
            "{\"error\": {\"code\": " + status + ", \"status\": \"" + rpcStatus + "\", " +
            "\"message\": \"Request with key " + Key + " (also AIzaSyOTHER_key_0123456789abcdef) failed: https://x/y?key=" + Key + "\", " +
            "\"details\": [{\"@type\": \"type.googleapis.com/google.rpc.DebugInfo\", \"detail\": \"key=" + Key + "\"}]}}";
        _server.Respond(status, body);

        var unary = await Assert.ThrowsAsync<ModelException>(() => Client().GetResponseAsync(Question()));
        var streaming = await Assert.ThrowsAsync<ModelException>(() => Collect(Client().GetStreamingResponseAsync(Question())));

        foreach (var ex in new[] { unary, streaming })
        {
            Assert.Equal(kind, ex.Kind);
            AssertNoKey(ex);
            Assert.DoesNotContain("AIzaSyOTHER", ex.ToString(), StringComparison.Ordinal);
            Assert.Contains("[redacted]", ex.Detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Key_that_does_not_look_like_AIza_is_still_redacted()
    {
        const string oddKey = "plain-secret-0042";
        _server.Respond(400, "{\"error\": {\"code\": 400, \"message\": \"bad request for " + oddKey + "\", \"status\": \"INVALID_ARGUMENT\"}}");
        using var client = new GeminiChatClient(_http, _server.BaseUrl, oddKey, Model);

        var ex = await Assert.ThrowsAsync<ModelException>(() => client.GetResponseAsync(Question()));

        Assert.DoesNotContain(oddKey, ex.ToString(), StringComparison.Ordinal);
        Assert.Equal(oddKey, Assert.Single(_server.Requests).Header("x-goog-api-key"));
    }

    // ---------- transport ----------

    [Fact]
    public async Task Unreachable_server_is_Network()
    {
        using var client = new GeminiChatClient(_http, new Uri($"http://127.0.0.1:{FreePort()}/"), Key, Model);

        var unary = await Assert.ThrowsAsync<ModelException>(() => client.GetResponseAsync(Question()));
        var streaming = await Assert.ThrowsAsync<ModelException>(() => Collect(client.GetStreamingResponseAsync(Question())));

        Assert.Equal(ModelErrorKind.Network, unary.Kind);
        Assert.Equal(ModelErrorKind.Network, streaming.Kind);
        Assert.True(unary.Retryable);
        AssertNoKey(unary);
        AssertNoKey(streaming);
    }

    [Fact]
    public async Task Timeout_is_Network()
    {
        _server.RespondWithFixture("unary-success-basic-reply-short.json");
        _server.ResponseDelay = TimeSpan.FromSeconds(5);
        using var impatient = new HttpClient { Timeout = TimeSpan.FromMilliseconds(300) };
        using var client = new GeminiChatClient(impatient, _server.BaseUrl, Key, Model);

        var ex = await Assert.ThrowsAsync<ModelException>(() => client.GetResponseAsync(Question()));

        Assert.Equal(ModelErrorKind.Network, ex.Kind);
        Assert.Contains("in time", ex.UserMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Caller_cancellation_is_not_turned_into_a_ModelException()
    {
        _server.RespondWithFixture("unary-success-basic-reply-short.json");
        _server.ResponseDelay = TimeSpan.FromSeconds(5);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client().GetResponseAsync(Question(), cancellationToken: cts.Token));
    }

    // ---------- metadata and lifetime ----------

    [Fact]
    public void GetService_returns_metadata_only()
    {
        using var client = Client();

        var metadata = Assert.IsType<ChatClientMetadata>(client.GetService(typeof(ChatClientMetadata)));
        Assert.Equal("gemini", metadata.ProviderName);
        Assert.Equal(_server.BaseUrl, metadata.ProviderUri);
        Assert.Equal(Model, metadata.DefaultModelId);
        Assert.Null(client.GetService(typeof(ChatClientMetadata), "some-key"));
        Assert.Null(client.GetService(typeof(string)));
        Assert.Null(client.GetService(typeof(HttpClient)));
    }

    [Fact]
    public async Task Dispose_does_not_dispose_the_shared_HttpClient()
    {
        _server.RespondWithFixture("unary-success-basic-reply-short.json");
        Client().Dispose();

        var response = await Client().GetResponseAsync(Question());

        Assert.Contains("Mountain View", response.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_rejects_an_empty_key_without_echoing_anything()
    {
        var ex = Assert.Throws<ArgumentException>(() => new GeminiChatClient(_http, _server.BaseUrl, " ", Model));
        Assert.Equal("apiKey", ex.ParamName);
    }

    // ---------- helpers ----------

    private static void AssertNoKey(Exception ex)
    {
        var all = ex.ToString() + (ex is ModelException m ? m.UserMessage + m.Detail : string.Empty);
        Assert.DoesNotContain(Key, all, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-key", all, StringComparison.Ordinal);
    }

    private static async Task<List<ChatResponseUpdate>> Collect(IAsyncEnumerable<ChatResponseUpdate> updates)
    {
        var list = new List<ChatResponseUpdate>();
        await foreach (var update in updates)
        {
            list.Add(update);
        }

        return list;
    }

    private static List<string> TextUpdates(List<ChatResponseUpdate> updates) =>
        updates.Select(u => u.Text).Where(t => t.Length > 0).ToList();

    /// <summary>Independent oracle: the non-thought text of every data: line of a recorded SSE body.</summary>
    private static string ExpectedStreamText(string fixture)
    {
        var sb = new StringBuilder();
        foreach (var line in File.ReadLines(FakeGeminiServer.FixturePath(fixture)).Where(l => l.StartsWith("data: ", StringComparison.Ordinal)))
        {
            using var chunk = JsonDocument.Parse(line["data: ".Length..]);
            foreach (var part in chunk.RootElement.GetProperty("candidates")[0].GetProperty("content").GetProperty("parts").EnumerateArray())
            {
                if (!(part.TryGetProperty("thought", out var thought) && thought.GetBoolean()))
                {
                    sb.Append(part.GetProperty("text").GetString());
                }
            }
        }

        return sb.ToString();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
