using UserQueues.Messaging;

namespace UserQueues.UnitTests;

public sealed class SnapshotPacingTests
{
    [Theory]
    [InlineData(5_000, 100, 5_000)]      // a cheap snapshot: the interval
    [InlineData(5_000, 1_250, 5_000)]    // 4 × 1.25 s = the interval
    [InlineData(5_000, 8_000, 32_000)]   // 10,000 queues through the management API: 8 s → 32 s pause
    [InlineData(15_000, 20_000, 80_000)] // the worker's passive declares of 10,000 queues
    public void TheBrokerIsBusyWithASnapshotAtMostAFifthOfTheTime(int intervalMs, int tookMs, int expectedPauseMs)
    {
        var pause = SnapshotPacing.PauseAfter(TimeSpan.FromMilliseconds(intervalMs), TimeSpan.FromMilliseconds(tookMs));

        Assert.Equal(TimeSpan.FromMilliseconds(expectedPauseMs), pause);
        Assert.True(tookMs / (double)(tookMs + pause.TotalMilliseconds) <= 1.0 / SnapshotPacing.DutyFactor + 1e-9);
    }
}
