using System.Net;
using AiSystem.Master.Configuration;
using AiSystem.Master.Hubs;

namespace AiSystem.Master.Tests;

public class ClientLimitsTests
{
    private sealed class Clock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = DateTimeOffset.UnixEpoch.AddDays(100);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private readonly Clock _clock = new();
    private static readonly IPAddress A = IPAddress.Parse("203.0.113.7");
    private static readonly IPAddress B = IPAddress.Parse("198.51.100.9");

    private ClientLimits Limits(bool limitLoopback = false) => new(Microsoft.Extensions.Options.Options.Create(new LimitsOptions
    {
        ConnectionsPerIpPerMinute = 3, QueriesPerIpPerMinute = 5, ServerKeyQueriesPerIpPerDay = 4, LimitLoopback = limitLoopback,
    }), _clock);

    [Fact]
    public void Connections_per_address_are_limited_per_minute_and_the_refusal_says_how_long_to_wait()
    {
        var limits = Limits();
        for (var i = 0; i < 3; i++) Assert.Null(limits.TryConnect(A));
        _clock.Now += TimeSpan.FromSeconds(20);
        var refusal = limits.TryConnect(A);
        Assert.NotNull(refusal);
        Assert.Equal(TimeSpan.FromSeconds(40), refusal.RetryAfter);
        Assert.Contains("Try again in 40 s", refusal.Message);
        Assert.Null(limits.TryConnect(B)); // another address is not affected
        Assert.Null(limits.TryConnect(IPAddress.Parse("::ffff:198.51.100.9"))); // the same address over IPv6 counts as it
        _clock.Now += TimeSpan.FromSeconds(41);
        Assert.Null(limits.TryConnect(A));
    }

    [Fact]
    public void Questions_on_the_servers_key_have_a_daily_budget_and_a_users_own_key_does_not_spend_it()
    {
        var limits = Limits();
        for (var i = 0; i < 4; i++) Assert.Null(limits.TryAsk(A, withOwnKey: false));
        var refusal = limits.TryAsk(A, withOwnKey: false);
        Assert.Contains("own Gemini API key", refusal!.Message);
        Assert.True(refusal.RetryAfter > TimeSpan.FromHours(23));
        Assert.Null(limits.TryAsk(A, withOwnKey: true)); // the fifth question of this minute, with its own key
        Assert.Contains("Too many questions", limits.TryAsk(A, withOwnKey: true)!.Message);
    }

    [Fact]
    public void Loopback_is_counted_only_when_asked_to()
    {
        for (var i = 0; i < 10; i++) Assert.Null(Limits().TryConnect(IPAddress.Loopback));
        var strict = Limits(limitLoopback: true);
        for (var i = 0; i < 3; i++) Assert.Null(strict.TryConnect(IPAddress.IPv6Loopback));
        Assert.NotNull(strict.TryConnect(IPAddress.IPv6Loopback));
    }
}
