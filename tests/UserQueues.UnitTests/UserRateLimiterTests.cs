using Microsoft.Extensions.Options;
using UserQueues.Api.RateLimiting;

namespace UserQueues.UnitTests;

public class UserRateLimiterTests
{
    private readonly ManualTimeProvider _time = new();

    private UserRateLimiter Limiter(double perSecond, int burst) =>
        new(Options.Create(new RateLimitOptions { PermitsPerSecond = perSecond, Burst = burst }), _time);

    [Fact]
    public void AUserMaySendItsBurstThenWaitsForTheBucketToRefill()
    {
        var limiter = Limiter(perSecond: 2, burst: 5);

        Assert.All(Enumerable.Range(0, 5), n => Assert.True(limiter.TryAcquire("u1", out _)));
        Assert.False(limiter.TryAcquire("u1", out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(0.5), retryAfter);

        _time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.True(limiter.TryAcquire("u1", out _));
        Assert.False(limiter.TryAcquire("u1", out _));
    }

    [Fact]
    public void OneUserAtItsLimitDoesNotLimitAnother()
    {
        var limiter = Limiter(perSecond: 1, burst: 3);
        while (limiter.TryAcquire("flood", out _))
        {
        }

        Assert.All(Enumerable.Range(0, 3), n => Assert.True(limiter.TryAcquire("quiet", out _)));
        Assert.False(limiter.TryAcquire("flood", out _));
    }

    [Fact]
    public void TheBucketNeverHoldsMoreThanTheBurst()
    {
        var limiter = Limiter(perSecond: 10, burst: 4);
        _time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(4, Enumerable.Range(0, 10).Count(n => limiter.TryAcquire("u1", out _)));
    }

    [Fact]
    public void BucketsThatRefilledAreForgottenSoMemoryFollowsActiveUsers()
    {
        var limiter = Limiter(perSecond: 1, burst: 2);
        limiter.TryAcquire("a", out _);
        limiter.TryAcquire("b", out _);
        limiter.TryAcquire("b", out _);
        Assert.Equal(2, limiter.BucketCount);

        _time.Advance(TimeSpan.FromSeconds(1));
        limiter.Sweep(_time.GetTimestamp());

        Assert.Equal(1, limiter.BucketCount);
        Assert.True(limiter.TryAcquire("a", out _));
        Assert.True(limiter.TryAcquire("a", out _));
        Assert.False(limiter.TryAcquire("a", out _));
    }
}
