using System.Text.Json;
using AiSystem.Integration.Tests.Infrastructure;

namespace AiSystem.Integration.Tests.Security;

/// <summary>A session belongs to whoever started it: resuming needs its id and its resume token.</summary>
public sealed class SessionOwnershipTests : IAsyncLifetime
{
    private MasterProcess _master = null!;
    private readonly List<ChatClient> _browsers = [];

    public async Task InitializeAsync() => _master = await MasterProcess.StartAsync(null, localWorkers: 1);

    public async Task DisposeAsync()
    {
        foreach (var b in _browsers) await b.DisposeAsync();
        await _master.DisposeAsync();
    }

    private async Task<ChatClient> ConnectAsync(string? sessionId = null, string? token = null)
    {
        var client = await ChatClient.ConnectAsync(_master.BaseUrl, sessionId, token);
        _browsers.Add(client);
        return client;
    }

    private static string[] History(ChatClient c) =>
        [.. c.Started.GetProperty("history").EnumerateArray().Select(i => i.Str("query"))];

    [Fact]
    public async Task Someone_with_only_the_session_id_gets_a_fresh_session_and_the_owner_still_resumes_with_its_token()
    {
        await _master.WaitForWorkersAsync(1);
        var owner = await ConnectAsync();
        Assert.False(string.IsNullOrEmpty(owner.ResumeToken));
        await owner.AskAsync("my private question", TimeSpan.FromSeconds(30));
        var (id, token) = (owner.SessionId, owner.ResumeToken);

        // The session id alone (from a log line, a shoulder, a shared screenshot), or with a wrong or another's token.
        var other = await ConnectAsync();
        foreach (var attempt in new[] { "", "not-a-token", token[..^2] + "xx", other.ResumeToken })
        {
            var intruder = await ConnectAsync(id, attempt);
            Assert.NotEqual(id, intruder.SessionId);
            Assert.False(intruder.Started.GetProperty("resumed").GetBoolean());
            Assert.Empty(History(intruder));
            Assert.DoesNotContain("my private question", intruder.Started.GetRawText());
            // Whatever it does now happens in its own new session: deleting deletes only that one.
            await intruder.DeleteSessionAsync();
        }

        var back = await ConnectAsync(id, token);
        Assert.Equal(id, back.SessionId);
        Assert.True(back.Started.GetProperty("resumed").GetBoolean());
        Assert.Equal(["my private question"], History(back));
        Assert.Equal(token, back.ResumeToken); // the same token, every time
    }

    [Fact]
    public async Task A_resume_token_survives_a_restart_of_the_master()
    {
        await _master.WaitForWorkersAsync(1);
        var owner = await ConnectAsync();
        await owner.AskAsync("remember me", TimeSpan.FromSeconds(30));
        await owner.DisposeAsync();
        _browsers.Remove(owner);

        _master.Process.Kill();
        await _master.Process.WaitForExitAsync(TimeSpan.FromSeconds(10));
        await _master.StartAgainAsync();

        ChatClient? back = null;
        await Poll.UntilAsync(async () =>
        {
            try { back = await ChatClient.ConnectAsync(_master.BaseUrl, owner.SessionId, owner.ResumeToken); return true; }
            catch (Exception) { return false; }
        }, TimeSpan.FromSeconds(60), "the session after the restart", () => _master.Process.Tail());
        _browsers.Add(back!);
        Assert.True(back!.Started.GetProperty("resumed").GetBoolean());
        Assert.Equal(["remember me"], History(back));
    }
}
