using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;

namespace AiSystem.Integration.Tests.Infrastructure;

/// <summary>A browser as the hub sees it: the SignalR .NET client, recording every event with its raw JSON.</summary>
public sealed class ChatClient : IAsyncDisposable
{
    private static readonly string[] EventNames = ["SessionStarted", "TaskAccepted", "TaskQueued", "TaskAssigned", "AiResponseChunk", "AiResponse", "TaskFailed", "SessionDeleted", "TaskCancelled"];

    private readonly HubConnection _connection;
    private readonly TaskCompletionSource<JsonElement> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConcurrentQueue<(string Name, JsonElement Payload)> Events { get; } = new();
    /// <summary>Raised on the connection's thread as each answer arrives.</summary>
    public event Action<JsonElement>? AnswerReceived;
    public string SessionId { get; private set; } = "";
    /// <summary>SessionStarted.resumeToken: with <see cref="SessionId"/>, what resumes the session.</summary>
    public string ResumeToken { get; private set; } = "";
    public JsonElement Started { get; private set; }

    /// <summary>Every session's resume token this test process was given: what each browser's localStorage would keep.</summary>
    private static readonly ConcurrentDictionary<string, string> Tokens = new(StringComparer.Ordinal);

    private ChatClient(HubConnection connection)
    {
        _connection = connection;
        // Refused before SessionStarted (the hub threw in OnConnectedAsync): fail with the server's reason at once.
        connection.Closed += e =>
        {
            _started.TrySetException(e ?? new InvalidOperationException("The server closed the connection before SessionStarted."));
            return Task.CompletedTask;
        };
        foreach (var name in EventNames)
        {
            connection.On<JsonElement>(name, payload =>
            {
                Events.Enqueue((name, payload));
                if (name == "SessionStarted") _started.TrySetResult(payload);
                if (name == "AiResponse") AnswerReceived?.Invoke(payload);
            });
        }
    }

    /// <summary>
    /// Connects, to <paramref name="sessionId"/> if given: with <paramref name="token"/>, or by default with the token the
    /// session was given earlier in this test process (as the page resumes from localStorage); "" sends none.
    /// </summary>
    public static async Task<ChatClient> ConnectAsync(string baseUrl, string? sessionId = null, string? token = null)
    {
        token ??= sessionId is null ? null : Tokens.GetValueOrDefault(sessionId);
        var url = $"{baseUrl}/hubs/chat" + (sessionId is null ? "" : $"?session={Uri.EscapeDataString(sessionId)}")
            + (sessionId is null || string.IsNullOrEmpty(token) ? "" : $"&token={Uri.EscapeDataString(token)}");
        var client = new ChatClient(new HubConnectionBuilder().WithUrl(url).Build());
        try
        {
            await client._connection.StartAsync();
            client.Started = await client._started.Task.WaitAsync(TimeSpan.FromSeconds(15));
        }
        catch
        {
            await client._connection.DisposeAsync();
            throw;
        }
        client.SessionId = client.Started.GetProperty("sessionId").GetString()!;
        client.ResumeToken = client.Started.TryGetProperty("resumeToken", out var t) ? t.GetString() ?? "" : "";
        if (client.ResumeToken.Length > 0) Tokens[client.SessionId] = client.ResumeToken;
        return client;
    }

    public async Task<JsonElement> SubmitAsync(string query, string? apiKey = null) =>
        Record(await _connection.InvokeAsync<JsonElement>("SubmitQuery", new { query, apiKey }));

    /// <summary>As the page does: with its own task id (sending the same id again is the same question).</summary>
    public async Task<JsonElement> SubmitAsync(string query, string taskId, string? apiKey) =>
        Record(await _connection.InvokeAsync<JsonElement>("SubmitQuery", new { query, apiKey, taskId }));

    /// <summary>Asks (with its own task id, as the page does) and waits for that question's answer.</summary>
    public async Task<JsonElement> AskAsync(string query, TimeSpan timeout)
    {
        var taskId = Guid.NewGuid().ToString();
        var answered = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnAnswer(JsonElement a)
        {
            if (a.GetProperty("taskId").GetString() == taskId) answered.TrySetResult(a);
        }
        AnswerReceived += OnAnswer;
        try
        {
            await SubmitAsync(query, taskId, null);
            return await answered.Task.WaitAsync(timeout);
        }
        finally
        {
            AnswerReceived -= OnAnswer;
        }
    }

    /// <summary>
    /// The asking connection learns the first assignment or queue position from the reply, not from an event (the
    /// others of the session get TaskAssigned / TaskQueued): recorded here as those events, the way the page reads it.
    /// </summary>
    private JsonElement Record(JsonElement reply)
    {
        var taskId = reply.GetProperty("taskId").GetString();
        switch (reply.GetProperty("status").GetString())
        {
            case "assigned" when reply.TryGetProperty("workerId", out var w) && w.ValueKind == JsonValueKind.String:
                Events.Enqueue(("TaskAssigned", JsonSerializer.SerializeToElement(new
                {
                    taskId, workerId = w.GetString(), attempt = reply.TryGetProperty("attempt", out var a) && a.ValueKind == JsonValueKind.Number ? a.GetInt32() : 1,
                })));
                break;
            case "queued" when reply.TryGetProperty("position", out var p) && p.ValueKind == JsonValueKind.Number:
                Events.Enqueue(("TaskQueued", JsonSerializer.SerializeToElement(new { taskId, position = p.GetInt32() })));
                break;
        }
        return reply;
    }

    /// <summary>SubmitQuery with any request object (e.g. with <c>replaces</c> or <c>model</c>).</summary>
    public async Task<JsonElement> SubmitRequestAsync(object request) =>
        Record(await _connection.InvokeAsync<JsonElement>("SubmitQuery", request));

    /// <summary>Stops a question: returns <c>{ taskId, status }</c>.</summary>
    public Task<JsonElement> CancelTaskAsync(string taskId) => _connection.InvokeAsync<JsonElement>("CancelTask", taskId);

    /// <summary>Deletes this connection's session; returns <c>{ sessionId }</c> once nothing of it is left.</summary>
    public Task<JsonElement> DeleteSessionAsync() => _connection.InvokeAsync<JsonElement>("DeleteSession");

    public IReadOnlyList<JsonElement> Payloads(string eventName) =>
        Events.Where(e => e.Name == eventName).Select(e => e.Payload).ToList();

    public IReadOnlyList<JsonElement> Answers => Payloads("AiResponse");

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}

public static class JsonElementExtensions
{
    public static string Str(this JsonElement e, string property) => e.GetProperty(property).GetString() ?? "";
}
