using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace UserQueues.Api.RateLimiting;

/// <summary>The per-user limit of <c>send-message</c> (section <c>RateLimit</c>).</summary>
public sealed class RateLimitOptions
{
    public const string SectionName = "RateLimit";

    /// <summary>Messages a user may send per second, sustained.</summary>
    [Range(0.001, 1_000_000)]
    public double PermitsPerSecond { get; set; } = 50;

    /// <summary>Messages a user may send at once after being quiet (the bucket's size).</summary>
    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 100;
}

/// <summary>
/// A token bucket per userId, so that one producer flooding one user cannot starve the others:
/// each user's bucket holds <see cref="RateLimitOptions.Burst"/> tokens and refills at
/// <see cref="RateLimitOptions.PermitsPerSecond"/>. ASP.NET Core's rate-limiting middleware runs
/// before the body is read, and the userId is in the body, hence this small limiter in the handler.
/// </summary>
public sealed class UserRateLimiter(IOptions<RateLimitOptions> options, TimeProvider time)
{
    /// <summary>Every this many acquisitions, buckets that have refilled completely are dropped (a new one is the same).</summary>
    private const int SweepEvery = 4096;

    private readonly double _rate = options.Value.PermitsPerSecond;
    private readonly double _burst = options.Value.Burst;
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private long _acquisitions;

    /// <summary>Takes one token of <paramref name="userId"/>'s bucket; false, with when to try again, when it is empty.</summary>
    public bool TryAcquire(string userId, out TimeSpan retryAfter)
    {
        var now = time.GetTimestamp();
        if (Interlocked.Increment(ref _acquisitions) % SweepEvery == 0)
        {
            Sweep(now);
        }

        var bucket = _buckets.GetOrAdd(userId, static (_, state) => new Bucket(state.Burst, state.Now), (Burst: _burst, Now: now));
        lock (bucket)
        {
            bucket.Refill(now, _rate, _burst, time);
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            retryAfter = TimeSpan.FromSeconds((1 - bucket.Tokens) / _rate);
            return false;
        }
    }

    /// <summary>Buckets currently kept (for tests: memory stays bounded by active users).</summary>
    internal int BucketCount => _buckets.Count;

    internal void Sweep(long now)
    {
        foreach (var (userId, bucket) in _buckets)
        {
            lock (bucket)
            {
                bucket.Refill(now, _rate, _burst, time);
                if (bucket.Tokens >= _burst)
                {
                    _buckets.TryRemove(userId, out _);
                }
            }
        }
    }

    private sealed class Bucket(double tokens, long stamp)
    {
        public double Tokens { get; set; } = tokens;

        private long _stamp = stamp;

        public void Refill(long now, double rate, double burst, TimeProvider time)
        {
            if (now > _stamp)
            {
                Tokens = Math.Min(burst, Tokens + (time.GetElapsedTime(_stamp, now).TotalSeconds * rate));
                _stamp = now;
            }
        }
    }
}
