using AiSystem.Worker.Models;

namespace AiSystem.Worker;

/// <summary>
/// When a failed model call is worth another try, and after how long: a quota error after the delay Gemini asks for
/// (bounded), an overloaded model or a network failure with exponential backoff and jitter; everything else at once
/// to the user. Never past the time the task has left.
/// </summary>
public sealed class ModelRetryPolicy(int maxRetries = 3, TimeSpan? maxQuotaWait = null, TimeSpan? baseBackoff = null, Func<double>? random = null)
{
    private readonly TimeSpan _maxQuotaWait = maxQuotaWait ?? TimeSpan.FromSeconds(30);
    private readonly TimeSpan _baseBackoff = baseBackoff ?? TimeSpan.FromSeconds(1);
    private readonly Func<double> _random = random ?? Random.Shared.NextDouble;

    /// <param name="retriesSoFar">0 after the first failure.</param>
    /// <returns>How long to wait before the next try, or null to give up.</returns>
    public TimeSpan? NextDelay(ModelException error, int retriesSoFar, TimeSpan timeLeft)
    {
        if (retriesSoFar >= maxRetries) return null;
        TimeSpan delay;
        switch (error.Kind)
        {
            case ModelErrorKind.Quota:
                delay = error.RetryAfter ?? _baseBackoff * Math.Pow(2, retriesSoFar);
                if (delay > _maxQuotaWait) return null; // waiting longer than that is worse than telling the user
                break;
            case ModelErrorKind.Overloaded or ModelErrorKind.Network:
                var backoff = _baseBackoff * Math.Pow(2, retriesSoFar);
                delay = backoff * (0.75 + _random() * 0.5); // ±25 % so many workers do not retry in step
                break;
            default:
                return null;
        }
        return delay < timeLeft ? delay : null;
    }
}
