using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AiSystem.Worker.Tests;

/// <summary>One request the fake Gemini server received.</summary>
public sealed record RecordedRequest(
    string Method,
    string Path,
    string QueryString,
    IReadOnlyDictionary<string, string> Headers,
    string Body)
{
    /// <summary>Path and query as sent, e.g. "/v1beta/models/gemini-2.5-flash:generateContent".</summary>
    public string PathAndQuery => Path + QueryString;

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>
/// A real Kestrel server on loopback that answers every request with a recorded Gemini body from
/// <c>fixtures/gemini</c> (next to the test assembly), and records what it received.
/// </summary>
public sealed class FakeGeminiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private volatile Reply _reply = new(200, "application/json; charset=utf-8", "{}"u8.ToArray(), StreamEvents: false);
    private readonly ConcurrentQueue<Reply> _once = new();

    private FakeGeminiServer(WebApplication app, Uri baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    /// <summary>The folder holding the recorded bodies.</summary>
    public static string FixtureDirectory => Path.Combine(AppContext.BaseDirectory, "fixtures", "gemini");

    /// <summary>Base URL to hand to the client, e.g. http://127.0.0.1:54321/.</summary>
    public Uri BaseUrl { get; private set; }

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    /// <summary>Requests whose client went away before the reply was complete (a stopped answer aborts its request).</summary>
    public int AbortedRequests => Volatile.Read(ref _aborted);
    private int _aborted;

    /// <summary>
    /// Streams a Gemini-shaped answer made from each request itself: how many turns it carried, the last question and
    /// the model's previous answer, so a test sees what the model was given. Three events, <see cref="EventDelay"/> apart.
    /// </summary>
    public void RespondWithEcho() => _echo = true;
    private volatile bool _echo;

    /// <summary>Delay before each response is sent (to provoke client timeouts).</summary>
    public TimeSpan ResponseDelay { get; set; }

    /// <summary>Pause between the events of a streamed (SSE) reply, as a real model writing.</summary>
    public TimeSpan EventDelay { get; set; }

    public static string FixturePath(string fileName) => Path.Combine(FixtureDirectory, fileName);

    public static string ReadFixture(string fileName) => File.ReadAllText(FixturePath(fileName));

    /// <summary>
    /// The HTTP status a fixture answers with: <c>error.code</c> for bodies with an <c>error</c> object, 200 otherwise.
    /// </summary>
    public static int StatusFor(string fileName)
    {
        if (!fileName.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            return 200;
        }

        using var doc = JsonDocument.Parse(File.ReadAllBytes(FixturePath(fileName)));
        return doc.RootElement.TryGetProperty("error", out var error) &&
               error.ValueKind == JsonValueKind.Object &&
               error.TryGetProperty("code", out var code) &&
               code.TryGetInt32(out var status)
            ? status
            : 200;
    }

    public static async Task<FakeGeminiServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = "Test",
        });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");

        var app = builder.Build();
        var server = new FakeGeminiServer(app, new Uri("http://127.0.0.1/"));
        app.Run(server.HandleAsync);
        await app.StartAsync().ConfigureAwait(false);

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseUrl = new Uri(address.TrimEnd('/') + "/");
        return server;
    }

    /// <summary>Answer with a recorded fixture: its status from <see cref="StatusFor"/> unless given; .txt files as text/event-stream.</summary>
    public void RespondWithFixture(string fileName, int? statusCode = null)
    {
        var bytes = File.ReadAllBytes(FixturePath(fileName));
        var sse = fileName.EndsWith(".txt", StringComparison.OrdinalIgnoreCase);
        _reply = new Reply(
            statusCode ?? StatusFor(fileName),
            sse ? "text/event-stream" : "application/json; charset=utf-8",
            bytes,
            StreamEvents: sse);
    }

    /// <summary>The next request (in order, one each) gets this fixture; then the usual reply applies again.</summary>
    public void RespondOnceWithFixture(string fileName, int? statusCode = null)
    {
        var usual = _reply;
        RespondWithFixture(fileName, statusCode);
        _once.Enqueue(_reply);
        _reply = usual;
    }

    /// <summary>Answer with a custom body (for cases the recordings do not cover).</summary>
    public void Respond(int statusCode, string body, string contentType = "application/json; charset=utf-8", IReadOnlyDictionary<string, string>? headers = null) =>
        _reply = new Reply(statusCode, contentType, Encoding.UTF8.GetBytes(body), contentType.StartsWith("text/event-stream", StringComparison.Ordinal), headers);

    /// <summary>The next request (in order, one each) gets this custom body; then the usual reply applies again.</summary>
    public void RespondOnce(int statusCode, string body, string contentType = "application/json; charset=utf-8")
    {
        var usual = _reply;
        Respond(statusCode, body, contentType);
        _once.Enqueue(_reply);
        _reply = usual;
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(cts.Token).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        string body;
        using (var reader = new StreamReader(context.Request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted).ConfigureAwait(false);
        }

        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        _requests.Enqueue(new RecordedRequest(
            context.Request.Method,
            context.Request.Path.Value ?? string.Empty,
            context.Request.QueryString.Value ?? string.Empty,
            headers,
            body));

        if (ResponseDelay > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(ResponseDelay, context.RequestAborted).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        var reply = _once.TryDequeue(out var once) ? once : _echo ? EchoOf(body) : _reply;
        context.Response.StatusCode = reply.Status;
        context.Response.ContentType = reply.ContentType;
        if (reply.Headers is not null)
        {
            foreach (var (name, value) in reply.Headers)
            {
                context.Response.Headers[name] = value;
            }
        }

        if (!reply.StreamEvents)
        {
            context.Response.ContentLength = reply.Body.Length;
            await context.Response.Body.WriteAsync(reply.Body, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        try
        {
            await StreamAsync(context, reply).ConfigureAwait(false);
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            Interlocked.Increment(ref _aborted);
        }
    }

    private static Reply EchoOf(string requestBody)
    {
        var turns = new List<(string Role, string Text)>();
        using (var doc = JsonDocument.Parse(requestBody))
            foreach (var content in doc.RootElement.GetProperty("contents").EnumerateArray())
                turns.Add((content.TryGetProperty("role", out var r) ? r.GetString() ?? "user" : "user",
                    string.Concat(content.GetProperty("parts").EnumerateArray().Select(p => p.TryGetProperty("text", out var t) ? t.GetString() : ""))));
        var question = turns.LastOrDefault(t => t.Role == "user").Text ?? "";
        var earlier = turns.LastOrDefault(t => t.Role == "model").Text;
        string[] pieces = [$"Echo of {turns.Count} turn(s). ", $"You asked: {question}", earlier is null ? "" : $" Before that I said: {earlier}"];
        var sse = new StringBuilder();
        for (var i = 0; i < pieces.Length; i++)
        {
            var last = i == pieces.Length - 1;
            var usage = last ? "{\"promptTokenCount\": 21,\"candidatesTokenCount\": 9,\"totalTokenCount\": 30}" : "{\"promptTokenCount\": 21,\"totalTokenCount\": 21}";
            sse.Append("data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": ").Append(JsonSerializer.Serialize(pieces[i]))
                .Append("}],\"role\": \"model\"}").Append(last ? ",\"finishReason\": \"STOP\"" : "").Append("}],\"usageMetadata\": ").Append(usage)
                .Append(",\"modelVersion\": \"gemini-2.5-flash\"}\n\n");
        }
        return new Reply(200, "text/event-stream", Encoding.UTF8.GetBytes(sse.ToString()), StreamEvents: true);
    }

    private async Task StreamAsync(HttpContext context, Reply reply)
    {
        // Server-sent events: send the recorded bytes unchanged, flushing after each event (blank line),
        // so the client really receives the answer in pieces.
        await context.Response.StartAsync(context.RequestAborted).ConfigureAwait(false);
        var bytes = reply.Body;
        var written = 0;
        var start = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != (byte)'\n')
            {
                continue;
            }

            var lineStart = start;
            start = i + 1;
            var isBlank = i == lineStart || (i == lineStart + 1 && bytes[lineStart] == (byte)'\r');
            if (isBlank)
            {
                if (written > 0 && EventDelay > TimeSpan.Zero)
                {
                    await Task.Delay(EventDelay, context.RequestAborted).ConfigureAwait(false);
                }

                await context.Response.Body.WriteAsync(bytes.AsMemory(written, start - written), context.RequestAborted).ConfigureAwait(false);
                await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
                written = start;
            }
        }

        if (written < bytes.Length)
        {
            await context.Response.Body.WriteAsync(bytes.AsMemory(written), context.RequestAborted).ConfigureAwait(false);
        }

        await context.Response.CompleteAsync().ConfigureAwait(false);
    }

    private sealed record Reply(int Status, string ContentType, byte[] Body, bool StreamEvents, IReadOnlyDictionary<string, string>? Headers = null);
}
