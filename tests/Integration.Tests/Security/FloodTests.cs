using AiSystem.Integration.Tests.Infrastructure;
using Microsoft.AspNetCore.SignalR;

namespace AiSystem.Integration.Tests.Security;

/// <summary>One address cannot open sessions or ask questions without bound; those already in are not disturbed.</summary>
public sealed class FloodTests : IAsyncLifetime
{
    private MasterProcess _master = null!;
    private readonly List<ChatClient> _browsers = [];

    // The test's clients all come from loopback, which the limits skip by default (the operator's own tools).
    public async Task InitializeAsync() => _master = await MasterProcess.StartAsync(null, localWorkers: 1, new Dictionary<string, string?>
    {
        ["Limits__LimitLoopback"] = "true", ["Limits__ConnectionsPerIpPerMinute"] = "20", ["Limits__QueriesPerIpPerMinute"] = "8",
    });

    public async Task DisposeAsync()
    {
        foreach (var b in _browsers) await b.DisposeAsync();
        await _master.DisposeAsync();
    }

    [Fact]
    public async Task A_connection_flood_from_one_address_is_refused_with_a_wait_and_the_sessions_already_open_go_on()
    {
        await _master.WaitForWorkersAsync(1);
        var first = await ChatClient.ConnectAsync(_master.BaseUrl);
        _browsers.Add(first);

        // Two hundred connections as fast as they go: the first 19 more get sessions, the rest are told to wait.
        var refused = new List<string>();
        for (var i = 0; i < 200; i++)
        {
            try { _browsers.Add(await ChatClient.ConnectAsync(_master.BaseUrl)); }
            catch (Exception e) { refused.Add(e.Message); }
        }
        Assert.Equal(20, _browsers.Count);
        Assert.Equal(181, refused.Count);
        Assert.All(refused, m => Assert.Contains("Too many new connections from your address. Try again in", m));

        // Questions from that address: eight in a minute, over all its sessions; the ninth is refused with a wait.
        for (var i = 0; i < 8; i++) await _browsers[i].SubmitAsync($"question {i}");
        var ninth = await Assert.ThrowsAsync<HubException>(() => first.SubmitAsync("one too many"));
        Assert.Contains("Too many questions from your address. Try again in", ninth.Message);

        await Poll.UntilAsync(() => _browsers.Take(8).All(b => b.Answers.Count == 1), TimeSpan.FromSeconds(30), "the eight answers",
            () => _master.Process.Tail());
        Assert.False(_master.Process.HasExited);
        Assert.True((await _master.Http.GetAsync("/healthz/ready")).IsSuccessStatusCode);
    }
}
