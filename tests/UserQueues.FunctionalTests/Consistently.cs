using System.Diagnostics;

namespace UserQueues.FunctionalTests;

/// <summary>The counterpart of <see cref="Eventually"/>: a condition that must hold at every probe for a whole period.</summary>
public static class Consistently
{
    public static async Task HoldsAsync<T>(Func<Task<T>> probe, Func<T, bool> holds, TimeSpan period, string what)
    {
        var watch = Stopwatch.StartNew();
        var probes = 0;
        while (watch.Elapsed < period || probes < 2)
        {
            var value = await probe();
            probes++;
            Assert.True(holds(value), $"{what}: broken after {watch.Elapsed.TotalSeconds:0.0} s (value: {value}).");
            await Task.Delay(100);
        }
    }
}
