using System.Diagnostics;

namespace UserQueues.FunctionalTests;

/// <summary>Waiting on a condition with a deadline: the only synchronisation the tests use.</summary>
public static class Eventually
{
    public static async Task<T> WaitAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        T last;
        while (true)
        {
            last = await probe();
            if (done(last))
            {
                return last;
            }

            if (watch.Elapsed > timeout)
            {
                Assert.Fail($"{what}: not reached within {timeout.TotalSeconds} s (last value: {last}).");
            }

            await Task.Delay(100);
        }
    }
}
