using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using UserQueues.Bench.Infrastructure;

namespace UserQueues.Bench.Scenarios;

/// <summary>
/// Consumer counts of many queues from passive declares, which give exact counts (the management
/// API lags up to 5 s), and the wait until every queue's count is what an operation should leave.
/// The bench times subscriptions with it, the admin scale measurement its bulk actions.
/// </summary>
public static class QueueConsumers
{
    private const int SampleSize = 64;

    /// <summary>
    /// Consumers of each queue over <paramref name="channels"/> channels at once (-1 for a queue
    /// that does not exist), each with the <see cref="Stopwatch"/> timestamp of its answer.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, (long Consumers, long At)>> CountAsync(IConnection connection, IReadOnlyCollection<string> queues, int channels,
        CancellationToken cancellationToken)
    {
        var counts = new ConcurrentDictionary<string, (long, long)>(StringComparer.Ordinal);
        var work = new ConcurrentQueue<string>(queues);
        await Task.WhenAll(Enumerable.Range(0, Math.Min(channels, Math.Max(1, queues.Count))).Select(async _ =>
        {
            var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
            try
            {
                while (work.TryDequeue(out var queue))
                {
                    try
                    {
                        var ok = await channel.QueueDeclarePassiveAsync(queue, cancellationToken);
                        counts[queue] = (ok.ConsumerCount, Stopwatch.GetTimestamp());
                    }
                    catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
                    {
                        // Not there (yet): a 404 closes the channel.
                        counts[queue] = (-1, Stopwatch.GetTimestamp());
                        await channel.DisposeAsync();
                        channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
                    }
                }
            }
            finally
            {
                await channel.DisposeAsync();
            }
        }));
        return counts;
    }

    /// <summary>
    /// Waits until every queue's consumer count satisfies <paramref name="done"/>. While many are
    /// not done it asks only about a random sample of them every 100 ms, so that the asking does
    /// not compete much with the operation it times; once a sample is all done, it sweeps every
    /// queue not yet seen done. A queue seen done stays done while nothing else acts on it.
    /// </summary>
    /// <returns>
    /// Whether all were done before <paramref name="timeout"/>, and as <see cref="Stopwatch"/>
    /// timestamps: the last answer that found a queue not done, and the last that found one done.
    /// Every queue was done after the first and by the later of the two.
    /// </returns>
    public static async Task<(bool Done, long LastNotDoneAt, long LastDoneAt)> WaitForAllAsync(IConnection connection, IReadOnlyList<string> queues,
        Func<long, bool> done, TimeSpan timeout, IProgressStep progress, CancellationToken cancellationToken)
    {
        var pending = queues.ToList();
        var lastNotDone = Stopwatch.GetTimestamp();
        var lastDone = lastNotDone;
        var deadline = Stopwatch.StartNew();
        var sampling = pending.Count > SampleSize;
        while (pending.Count > 0)
        {
            var asked = sampling ? Random.Shared.GetItems(CollectionsMarshal.AsSpan(pending), SampleSize).Distinct().ToList() : pending;
            var counts = await CountAsync(connection, asked, channels: sampling ? 2 : 8, cancellationToken);
            var notDone = 0;
            foreach (var (consumers, at) in counts.Values)
            {
                if (done(consumers))
                {
                    lastDone = Math.Max(lastDone, at);
                    progress.Increment();
                }
                else
                {
                    lastNotDone = Math.Max(lastNotDone, at);
                    notDone++;
                }
            }

            pending.RemoveAll(queue => counts.TryGetValue(queue, out var count) && done(count.Consumers));
            if (pending.Count == 0)
            {
                break;
            }

            // A sample all done: the others probably are too, sweep them all.
            sampling = notDone > 0 && pending.Count > SampleSize;
            if (deadline.Elapsed > timeout)
            {
                return (false, lastNotDone, lastDone);
            }

            if (notDone > 0)
            {
                await Task.Delay(sampling ? 100 : 200, cancellationToken);
            }
        }

        return (true, lastNotDone, lastDone);
    }
}
