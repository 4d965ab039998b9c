using UserQueues.Messaging.Registry;

namespace UserQueues.UnitTests;

public class QueueCountersTests
{
    [Fact]
    public void DrainReturnsWhatWasCountedOnceAndOnlyOnce()
    {
        var counters = new QueueCounters();
        counters.Published("u1");
        counters.Published("u1");
        counters.Delivered("u1");
        counters.Failed("u2");

        var first = counters.Drain().OrderBy(d => d.UserId).ToList();

        counters.Retried("u2");
        counters.DeadLettered("u2");
        first = [.. first, .. counters.Drain()];

        Assert.Equal(
            [new CounterDelta("u1", new QueueCounts(2, 1, 0, 0, 0)), new CounterDelta("u2", new QueueCounts(0, 0, 1, 0, 0)), new CounterDelta("u2", new QueueCounts(0, 0, 0, 1, 1))],
            first);
        Assert.Empty(counters.Drain());
    }

    [Fact]
    public void ARestoredBatchIsDrainedAgainWithNewCounts()
    {
        var counters = new QueueCounters();
        counters.Delivered("u1");
        var batch = counters.Drain();
        counters.Delivered("u1");

        counters.Restore(batch);

        Assert.Equal(new CounterDelta("u1", new QueueCounts(0, 2, 0, 0, 0)), Assert.Single(counters.Drain()));
    }

    [Fact]
    public async Task ConcurrentIncrementsAreNeverLostAcrossDrains()
    {
        var counters = new QueueCounters();
        long drained = 0;
        var writers = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 50_000; i++)
            {
                counters.Published("u" + (i % 10));
            }
        })).ToArray();
        while (!writers.All(w => w.IsCompleted))
        {
            drained += counters.Drain().Sum(d => d.Counts.Published);
        }

        await Task.WhenAll(writers);
        drained += counters.Drain().Sum(d => d.Counts.Published);
        Assert.Equal(200_000, drained);
    }
}
