using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UserQueues.Messaging.Registry;

/// <summary>
/// Counter increments gathered in memory and written to the registry in one transaction every
/// <see cref="RegistryOptions.CounterFlushIntervalMs"/>, so the hot path never waits on the
/// database. Counters are metadata: live queue figures come from the broker.
/// </summary>
public sealed class QueueCounters
{
    private readonly ConcurrentDictionary<string, Counts> _pending = new(StringComparer.Ordinal);

    public void Published(string userId) => Interlocked.Increment(ref For(userId).Published);

    public void Delivered(string userId) => Interlocked.Increment(ref For(userId).Delivered);

    public void Failed(string userId) => Interlocked.Increment(ref For(userId).Failed);

    public void Retried(string userId) => Interlocked.Increment(ref For(userId).Retried);

    public void DeadLettered(string userId) => Interlocked.Increment(ref For(userId).DeadLettered);

    /// <summary>Gives back a batch that could not be written, to be written with the next one.</summary>
    public void Restore(IEnumerable<CounterDelta> batch)
    {
        foreach (var delta in batch)
        {
            var counts = For(delta.UserId);
            Interlocked.Add(ref counts.Published, delta.Counts.Published);
            Interlocked.Add(ref counts.Delivered, delta.Counts.Delivered);
            Interlocked.Add(ref counts.Failed, delta.Counts.Failed);
            Interlocked.Add(ref counts.Retried, delta.Counts.Retried);
            Interlocked.Add(ref counts.DeadLettered, delta.Counts.DeadLettered);
        }
    }

    private Counts For(string userId) => _pending.GetOrAdd(userId, static _ => new Counts());

    /// <summary>
    /// Takes what was gathered so far. Each counter is swapped to zero atomically, so an increment
    /// racing with the drain lands in this batch or the next, never nowhere. Entries stay (one per
    /// user seen), so the map is bounded by the number of users.
    /// </summary>
    public IReadOnlyCollection<CounterDelta> Drain()
    {
        var deltas = new List<CounterDelta>();
        foreach (var (userId, counts) in _pending)
        {
            var delta = new QueueCounts(
                Interlocked.Exchange(ref counts.Published, 0),
                Interlocked.Exchange(ref counts.Delivered, 0),
                Interlocked.Exchange(ref counts.Failed, 0),
                Interlocked.Exchange(ref counts.Retried, 0),
                Interlocked.Exchange(ref counts.DeadLettered, 0));
            if (delta != default)
            {
                deltas.Add(new CounterDelta(userId, delta));
            }
        }

        return deltas;
    }

    private sealed class Counts
    {
        public long Published;
        public long Delivered;
        public long Failed;
        public long Retried;
        public long DeadLettered;
    }
}

/// <summary>Writes <see cref="QueueCounters"/> to the registry periodically and once more at shutdown.</summary>
public sealed partial class QueueCountersFlusher(
    QueueCounters counters,
    IQueueRegistry registry,
    IOptions<RegistryOptions> options,
    TimeProvider time,
    ILogger<QueueCountersFlusher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.Value.CounterFlushIntervalMs), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await FlushAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: StopAsync flushes what is left.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        var batch = counters.Drain();
        try
        {
            await registry.AddCountsAsync(batch, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Kept for the next flush; memory stays bounded (one entry per user).
            counters.Restore(batch);
            LogFlushFailed(logger, batch.Count, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write counters of {QueueCount} queues to the registry")]
    private static partial void LogFlushFailed(ILogger logger, int queueCount, Exception exception);
}
