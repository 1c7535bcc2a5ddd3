using System.Collections.Concurrent;
using System.Net;
using AiSystem.Master.Configuration;
using AiSystem.Messages.Configuration;
using Microsoft.Extensions.Options;

namespace AiSystem.Master.Hubs;

/// <summary>
/// Limits per client address, not only per session (sessions are free): new connections and questions per minute,
/// and questions on the operator's own key per day. Counted per master, in fixed windows. A refusal says how long
/// until the next one is allowed.
/// </summary>
public sealed class ClientLimits(IOptions<LimitsOptions> options, TimeProvider clock)
{
    /// <summary>Addresses tracked at most: beyond this, the oldest windows are forgotten first (memory stays bounded).</summary>
    public const int MaxAddresses = 100_000;

    private readonly LimitsOptions _limits = options.Value;
    private readonly ConcurrentDictionary<(IPAddress, Kind), Window> _windows = new();

    public enum Kind { Connection, Question, ServerKeyQuestion }

    /// <summary>Null when allowed (and counted); else the refusal, with the wait.</summary>
    public Refusal? TryConnect(IPAddress? address) => Take(address, [Kind.Connection]);

    /// <summary>A question counts in both its windows, or in neither when one of them refuses it.</summary>
    public Refusal? TryAsk(IPAddress? address, bool withOwnKey) =>
        Take(address, withOwnKey ? [Kind.Question] : [Kind.Question, Kind.ServerKeyQuestion]);

    public sealed record Refusal(string Message, TimeSpan RetryAfter);

    private Refusal? Take(IPAddress? address, Kind[] kinds)
    {
        if (address is null || (BindAddress.IsLoopback(address) && !_limits.LimitLoopback)) return null;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        var now = clock.GetUtcNow();
        if (_windows.Count >= MaxAddresses) Prune(now);
        var windows = kinds.Select(k => (Kind: k, Window: _windows.GetOrAdd((address, k), _ => new Window()))).ToArray();
        lock (windows[0].Window) // every window of an address is taken under its first one's lock
        {
            foreach (var (kind, window) in windows)
            {
                var (limit, length) = Rule(kind);
                if (now >= window.Ends) (window.Ends, window.Count) = (now + length, 0);
                if (window.Count >= limit) return Refuse(kind, window.Ends - now);
            }
            foreach (var (_, window) in windows) window.Count++;
            return null;
        }
    }

    private (int Limit, TimeSpan Length) Rule(Kind kind) => kind switch
    {
        Kind.Connection => (_limits.ConnectionsPerIpPerMinute, TimeSpan.FromMinutes(1)),
        Kind.Question => (_limits.QueriesPerIpPerMinute, TimeSpan.FromMinutes(1)),
        _ => (_limits.ServerKeyQueriesPerIpPerDay, TimeSpan.FromDays(1)),
    };

    private static Refusal Refuse(Kind kind, TimeSpan wait) => new(kind switch
    {
        Kind.Connection => $"Too many new connections from your address. Try again in {Seconds(wait)} s.",
        Kind.Question => $"Too many questions from your address. Try again in {Seconds(wait)} s.",
        _ => $"Your address has used today's questions on this server's key. Enter your own Gemini API key, or try again in {Hours(wait)}.",
    }, wait);

    private void Prune(DateTimeOffset now)
    {
        foreach (var (key, window) in _windows)
            if (window.Ends <= now) _windows.TryRemove(key, out _);
        if (_windows.Count < MaxAddresses) return;
        foreach (var key in _windows.OrderBy(w => w.Value.Ends).Take(_windows.Count / 10).Select(w => w.Key).ToList())
            _windows.TryRemove(key, out _);
    }

    private static int Seconds(TimeSpan wait) => Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));

    private static string Hours(TimeSpan wait) => wait.TotalHours >= 1 ? $"{(int)Math.Ceiling(wait.TotalHours)} h" : $"{Math.Max(1, (int)Math.Ceiling(wait.TotalMinutes))} min";

    private sealed class Window
    {
        public DateTimeOffset Ends;
        public int Count;
    }
}
