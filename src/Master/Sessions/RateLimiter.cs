namespace AiSystem.Master.Sessions;

/// <summary>At most <c>limit</c> questions per session in any sliding minute.</summary>
public sealed class RateLimiter(int limit, TimeSpan window)
{
    private readonly Queue<DateTimeOffset> _recent = new();

    /// <summary>True and counted when allowed; otherwise how long until the next question is.</summary>
    public bool TryAcquire(DateTimeOffset now, out TimeSpan retryAfter)
    {
        while (_recent.Count > 0 && now - _recent.Peek() >= window) _recent.Dequeue();
        if (_recent.Count < limit)
        {
            _recent.Enqueue(now);
            retryAfter = TimeSpan.Zero;
            return true;
        }
        retryAfter = _recent.Peek() + window - now;
        return false;
    }
}
