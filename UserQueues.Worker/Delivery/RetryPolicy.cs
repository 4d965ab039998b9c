using System.Net.Http.Headers;
using Microsoft.Extensions.Options;

namespace UserQueues.Worker.Delivery;

/// <summary>
/// When a failed attempt is tried again: the seed's <c>min(60 s, 2^attempt s)</c> (attempt 1 → 2 s,
/// 2 → 4 s, …), at most <see cref="DeliveryOptions.MaxAttempts"/> attempts in all, or the receiver's
/// <c>Retry-After</c> up to a cap (https://www.rfc-editor.org/rfc/rfc9110#name-retry-after).
/// </summary>
public sealed class RetryPolicy(IOptions<DeliveryOptions> options)
{
    private readonly DeliveryOptions _options = options.Value;

    /// <summary>The wait before the next attempt, or null when <paramref name="attempt"/> was the last one allowed.</summary>
    /// <param name="attempt">The attempt that just failed, 1 for the first.</param>
    /// <param name="retryAfter">What the receiver asked for, if anything.</param>
    /// <param name="random">A value in [0, 1) for the jitter.</param>
    public TimeSpan? NextDelay(int attempt, TimeSpan? retryAfter, double random = 0)
    {
        if (attempt >= _options.MaxAttempts)
        {
            return null;
        }

        if (retryAfter is { } asked)
        {
            var capped = Math.Min(Math.Max(asked.TotalSeconds, 1), _options.MaxRetryAfterSeconds);
            return TimeSpan.FromSeconds(Math.Ceiling(capped));
        }

        var backoff = Math.Min(_options.MaxBackoffSeconds, Math.Pow(2, attempt));
        return TimeSpan.FromSeconds(Math.Ceiling(backoff * (1 + _options.RetryJitter * random)));
    }

    /// <summary>Retry-After as delta-seconds or an HTTP date; null when absent, unreadable or in the past.</summary>
    public static TimeSpan? ParseRetryAfter(RetryConditionHeaderValue? header, DateTimeOffset now) => header switch
    {
        { Delta: { } delta } when delta > TimeSpan.Zero => delta,
        { Date: { } date } when date > now => date - now,
        _ => null,
    };
}
