namespace UserQueues.Bench.Infrastructure;

/// <summary>
/// <c>messages</c> spread evenly over <c>users</c>. Each user's messages go one after the other
/// (so publish order per user is sequence order), all users at once, with at most
/// <c>concurrency</c> sends in flight overall.
/// </summary>
public static class SendPlan
{
    public static int MessagesFor(int user, int users, int messages) => messages / users + (user < messages % users ? 1 : 0);

    /// <summary>Every (user, sequence) of the plan.</summary>
    public static IEnumerable<(int User, int Sequence)> All(int users, int messages) =>
        Enumerable.Range(0, users).SelectMany(u => Enumerable.Range(0, MessagesFor(u, users, messages)).Select(s => (u, s)));

    /// <summary>Runs <paramref name="send"/>(user, sequence) for every message; returns the failed sends.</summary>
    public static async Task<IReadOnlyCollection<(int User, int Sequence)>> RunAsync(int users, int messages, int concurrency, Func<int, int, Task<bool>> send, CancellationToken cancellationToken)
    {
        using var gate = new SemaphoreSlim(concurrency);
        var failures = new System.Collections.Concurrent.ConcurrentBag<(int, int)>();
        var chains = Enumerable.Range(0, users).Select(async user =>
        {
            var count = MessagesFor(user, users, messages);
            for (var sequence = 0; sequence < count; sequence++)
            {
                await gate.WaitAsync(cancellationToken);
                try
                {
                    if (!await send(user, sequence))
                    {
                        failures.Add((user, sequence));
                    }
                }
                finally
                {
                    gate.Release();
                }
            }
        });
        await Task.WhenAll(chains);
        return failures;
    }

    /// <summary>
    /// Open loop: message k of the plan (user k mod users, its sequence k div users) is sent at
    /// start + k / <paramref name="perSecond"/>, whether or not earlier sends answered, so a slow
    /// answer never lowers the offered load. A user's next message still waits for its previous
    /// send (publish order = sequence order). Returns the failed sends.
    /// </summary>
    public static async Task<IReadOnlyCollection<(int User, int Sequence)>> RunPacedAsync(int users, int messages, double perSecond, Func<int, int, Task<bool>> send, CancellationToken cancellationToken)
    {
        var failures = new System.Collections.Concurrent.ConcurrentBag<(int, int)>();
        var previous = new Task[users];
        Array.Fill(previous, Task.CompletedTask);
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var k = 0; k < messages; k++)
        {
            var due = TimeSpan.FromSeconds(k / perSecond) - System.Diagnostics.Stopwatch.GetElapsedTime(start);
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due, cancellationToken);
            }

            var (user, sequence) = (k % users, k / users);
            var before = previous[user];
            previous[user] = Task.Run(async () =>
            {
                await before;
                if (!await send(user, sequence))
                {
                    failures.Add((user, sequence));
                }
            }, cancellationToken);
        }

        await Task.WhenAll(previous);
        return failures;
    }

    /// <summary>Runs <paramref name="action"/> for every item, at most <paramref name="concurrency"/> at once.</summary>
    public static Task ForEachAsync<T>(IEnumerable<T> items, int concurrency, Func<T, CancellationToken, ValueTask> action, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken }, action);
}
