using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;

namespace AiSystem.SwarmCheck;

/// <summary>
/// One browser tab: a session on the hub that survives the master going away. When the connection closes it
/// reconnects to the same session (as the page does) and takes the answers it missed from the session's history.
/// </summary>
public sealed class Browser(string baseUrl, Action<string> log, string sessionId = "", string resumeToken = "", StackCa? ca = null) : IAsyncDisposable
{
    private HubConnection? _connection;
    private readonly SemaphoreSlim _connect = new(1, 1);
    private volatile bool _disposed;

    public string SessionId { get; private set; } = sessionId;
    /// <summary>SessionStarted.resumeToken: resuming needs it with the id.</summary>
    public string ResumeToken { get; private set; } = resumeToken;
    /// <summary>Answers per task id: each AiResponse event, plus history answers for tasks not yet answered.</summary>
    public ConcurrentDictionary<string, int> AnswerEvents { get; } = new();
    public ConcurrentDictionary<string, string> Failures { get; } = new();
    public int Reconnects { get; private set; }
    public JsonElement LastStarted { get; private set; }

    public async Task ConnectAsync(TimeSpan patience)
    {
        await _connect.WaitAsync();
        try
        {
            var deadline = DateTime.UtcNow + patience;
            while (true)
            {
                try
                {
                    await OpenAsync();
                    return;
                }
                catch (Exception e) when (DateTime.UtcNow < deadline && !_disposed)
                {
                    log($"session {Short}: connect failed ({e.GetType().Name}: {e.Message}); trying again");
                    await Task.Delay(TimeSpan.FromSeconds(1));
                }
            }
        }
        finally { _connect.Release(); }
    }

    private string Short => SessionId.Length > 8 ? SessionId[..8] : SessionId;

    private async Task OpenAsync()
    {
        if (_connection is not null) await _connection.DisposeAsync();
        var url = $"{baseUrl}/hubs/chat" + (SessionId.Length == 0 ? "" : $"?session={Uri.EscapeDataString(SessionId)}&token={Uri.EscapeDataString(ResumeToken)}");
        var started = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        var connection = new HubConnectionBuilder().WithUrl(url, o =>
        {
            if (ca is null) return;
            // HTTPS with the stack's own CA: negotiation and long polling go through the handler, the WebSocket its own way.
            o.HttpMessageHandlerFactory = _ => ca.Handler();
            o.WebSocketConfiguration = ws => ws.RemoteCertificateValidationCallback = ca.Validator;
        }).Build();
        connection.On<JsonElement>("SessionStarted", p => started.TrySetResult(p.Clone()));
        connection.On<JsonElement>("AiResponse", p => AnswerEvents.AddOrUpdate(p.GetProperty("taskId").GetString()!, 1, (_, n) => n + 1));
        connection.On<JsonElement>("TaskFailed", p => Failures[p.GetProperty("taskId").GetString()!] = p.GetProperty("error").GetString() ?? "");
        connection.Closed += closedBy =>
        {
            if (_disposed) return Task.CompletedTask;
            Reconnects++;
            log($"session {Short}: connection closed; reconnecting to the same session");
            _ = Task.Run(() => ConnectAsync(TimeSpan.FromMinutes(5)));
            return Task.CompletedTask;
        };
        _connection = connection;
        await connection.StartAsync();
        var payload = await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        LastStarted = payload;
        SessionId = payload.GetProperty("sessionId").GetString()!;
        ResumeToken = payload.TryGetProperty("resumeToken", out var token) ? token.GetString() ?? "" : "";
        // Answers delivered while this tab was away come in the history.
        foreach (var item in payload.GetProperty("history").EnumerateArray())
        {
            var id = item.GetProperty("taskId").GetString()!;
            if (item.TryGetProperty("response", out var r) && r.ValueKind == JsonValueKind.String && r.GetString()!.Length > 0)
                AnswerEvents.TryAdd(id, 1);
        }
    }

    public async Task<string> SubmitAsync(string query, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            try
            {
                var reply = await _connection!.InvokeAsync<JsonElement>("SubmitQuery", new { query });
                return reply.GetProperty("taskId").GetString()!;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                // Not accepted: the connection is being replaced or the master is draining for a restart. Send it again.
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        if (_connection is not null) await _connection.DisposeAsync();
    }
}
