using System.Net.Http.Headers;
using Microsoft.Extensions.Options;
using UserQueues.Messaging;
using UserQueues.Worker.Delivery;

namespace UserQueues.UnitTests;

public class DelayAndRetryTests
{
    private static RetryPolicy Policy(int maxAttempts = 5, double jitter = 0) =>
        new(Options.Create(new DeliveryOptions { MaxAttempts = maxAttempts, RetryJitter = jitter }));

    [Fact]
    public void TheDelayRoutingKeyHasOneWordPerLevelTopFirst()
    {
        var key = Topology.DelayRoutingKey(5);
        var words = key.Split('.');

        Assert.Equal(Topology.DelayLevels, words.Length);
        Assert.Equal(["1", "0", "1"], words[^3..]);
        Assert.All(words[..^3], w => Assert.Equal("0", w));
        Assert.Equal(string.Join('.', Enumerable.Repeat("1", Topology.DelayLevels)), Topology.DelayRoutingKey(Topology.MaxLevelDelaySeconds));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3600)]
    [InlineData(604_800)]
    [InlineData(Topology.MaxLevelDelaySeconds)]
    public void TheLevelsAMessageWaitsInAddUpToItsDelay(long delaySeconds)
    {
        // A level parks the message when the key's word at its position is "1": the pattern
        // "*.….*.1.#" of level k has the "1" at word index (levels - 1 - k).
        var words = Topology.DelayRoutingKey(delaySeconds).Split('.');
        var waited = Enumerable.Range(0, Topology.DelayLevels)
            .Where(level => words[Topology.DelayLevels - 1 - level] == "1")
            .Sum(level => (long)Topology.DelayLevelArguments(level)[Topology.QueueArguments.MessageTtl]! / 1000);

        Assert.Equal(delaySeconds, waited);
    }

    [Fact]
    public void EachLevelPatternSelectsItsOwnWordAndDeadLettersOneLevelDown()
    {
        Assert.Equal("1.#", Topology.DelayLevelPattern(Topology.DelayLevels - 1, '1'));
        Assert.Equal(string.Concat(Enumerable.Repeat("*.", Topology.DelayLevels - 1)) + "0.#", Topology.DelayLevelPattern(0, '0'));
        Assert.Equal("user_delay.06", Topology.BelowDelayLevel(7));
        Assert.Equal(Topology.DelayReadyExchange, Topology.BelowDelayLevel(0));
        Assert.Equal("user_delay.06", Topology.DelayLevelArguments(7)[Topology.QueueArguments.DeadLetterExchange]);
        Assert.Equal(128_000L, Topology.DelayLevelArguments(7)[Topology.QueueArguments.MessageTtl]);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 4)]
    [InlineData(3, 8)]
    [InlineData(4, 16)]
    public void BackoffDoublesPerAttempt(int attempt, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), Policy(maxAttempts: 10).NextDelay(attempt, retryAfter: null));

    [Fact]
    public void BackoffIsCappedAtSixtySeconds() =>
        Assert.Equal(TimeSpan.FromSeconds(60), Policy(maxAttempts: 20).NextDelay(9, retryAfter: null));

    [Fact]
    public void ThereAreAtMostMaxAttemptsInAll()
    {
        var policy = Policy(maxAttempts: 5);
        Assert.NotNull(policy.NextDelay(4, null));
        Assert.Null(policy.NextDelay(5, null));
        Assert.Null(Policy(maxAttempts: 1).NextDelay(1, null));
    }

    [Fact]
    public void RetryAfterIsHonouredUpToItsCap()
    {
        var policy = Policy();
        Assert.Equal(TimeSpan.FromSeconds(30), policy.NextDelay(1, TimeSpan.FromSeconds(30)));
        Assert.Equal(TimeSpan.FromSeconds(1), policy.NextDelay(1, TimeSpan.FromMilliseconds(200)));
        Assert.Equal(TimeSpan.FromSeconds(3600), policy.NextDelay(1, TimeSpan.FromDays(2)));
    }

    [Fact]
    public void JitterOnlyLengthensTheBackoffByAtMostItsFraction()
    {
        var policy = Policy(jitter: 0.5);
        Assert.Equal(TimeSpan.FromSeconds(8), policy.NextDelay(3, null, random: 0));
        Assert.Equal(TimeSpan.FromSeconds(12), policy.NextDelay(3, null, random: 0.999));
    }

    [Fact]
    public void RetryAfterIsReadAsSecondsOrAsADate()
    {
        var now = new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromSeconds(120), RetryPolicy.ParseRetryAfter(new RetryConditionHeaderValue(TimeSpan.FromSeconds(120)), now));
        Assert.Equal(TimeSpan.FromMinutes(5), RetryPolicy.ParseRetryAfter(new RetryConditionHeaderValue(now.AddMinutes(5)), now));
        Assert.Null(RetryPolicy.ParseRetryAfter(new RetryConditionHeaderValue(now.AddMinutes(-5)), now));
        Assert.Null(RetryPolicy.ParseRetryAfter(null, now));
    }
}
