using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;
using UserQueues.Messaging.Telemetry;

namespace UserQueues.Worker.Consumers;

/// <summary>
/// Feeds the worker's gauges. Active consumers and unacked deliveries are this process's own
/// figures, read when the gauges are collected; ready messages (a passive declare of each queue
/// this worker consumes, over the declare channels) and queues by status (the registry) are
/// refreshed in the background every <see cref="WorkerOptions.MetricsSnapshotIntervalSeconds"/> or, when
/// a round takes long (thousands of queues), a multiple of its duration (<see cref="SnapshotPacing"/>):
/// a metrics scrape never waits on the broker, and the management API is never asked
/// (ARCHITECTURE.md: it takes seconds for thousands of queues).
/// </summary>
internal sealed partial class QueueMetricsSnapshot(
    ConsumerPool pool,
    BrokerTopology topology,
    IQueueRegistry registry,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<QueueMetricsSnapshot> logger) : BackgroundService
{
    /// <summary>Passive declares in flight at once: the declare channels are shared with the real work.</summary>
    private const int Parallelism = 2;

    private volatile Snapshot _snapshot = new(0, new Dictionary<string, long>());

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        UserQueuesTelemetry.ObserveWorker(() => new UserQueuesTelemetry.WorkerFigures(
            _snapshot.Ready, pool.UnackedCount, pool.ActiveCount, _snapshot.QueuesByStatus));

        var interval = TimeSpan.FromSeconds(options.Value.MetricsSnapshotIntervalSeconds);
        var pause = interval; // not at once: a starting worker's declare channels are busy subscribing
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(pause, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            var started = time.GetTimestamp();
            try
            {
                _snapshot = await TakeAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // The gauges keep the last figures; the next round tries again.
                LogSnapshotFailed(logger, e.Message);
            }

            // A passive declare per consumed queue: at 10,000 queues that is seconds of the
            // broker's time, so the pause grows with it.
            pause = SnapshotPacing.PauseAfter(interval, time.GetElapsedTime(started));
        }
    }

    private async Task<Snapshot> TakeAsync(CancellationToken cancellationToken)
    {
        var queues = await registry.ListAsync(null, cancellationToken).ConfigureAwait(false);
        var byStatus = queues.GroupBy(q => q.Status.ToString().ToLowerInvariant())
            .ToDictionary(g => g.Key, g => (long)g.Count());

        long ready = 0;
        await Parallel.ForEachAsync(pool.ActiveUsers, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (userId, ct) =>
            {
                if (await topology.InspectUserQueueAsync(userId, ct).ConfigureAwait(false) is { } queue)
                {
                    Interlocked.Add(ref ready, queue.MessageCount);
                }
            }).ConfigureAwait(false);

        return new Snapshot(ready, byStatus);
    }

    private sealed record Snapshot(long Ready, IReadOnlyDictionary<string, long> QueuesByStatus);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The queue metrics snapshot failed ({Reason}); the gauges keep the last figures")]
    private static partial void LogSnapshotFailed(ILogger logger, string reason);
}
