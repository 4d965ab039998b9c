using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;

namespace UserQueues.Worker.Consumers;

/// <summary>
/// Idle expiry that never loses a message (the seed's <c>x-expires</c>, made safe). A running
/// queue whose last activity is older than its TTL is parked on every worker instance (consumers
/// cancelled), then deleted with <c>queue.delete</c> if-empty and if-unused, an atomic check by the
/// broker itself: a message or a consumer that arrived meanwhile keeps the queue, and the
/// consumers come back. Stopped queues are never touched. A send to an expired user declares its
/// queue again (the API's mandatory publish, and the delay forwarder, both do).
/// </summary>
internal sealed partial class QueueJanitor(
    BrokerTopology topology,
    IQueueRegistry registry,
    MessagePublisher publisher,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<QueueJanitor> logger) : BackgroundService
{
    /// <summary>How long workers stay off a parked queue; the janitor is done with it well before.</summary>
    public static readonly TimeSpan ParkDuration = TimeSpan.FromSeconds(30);

    /// <summary>How long the janitor waits for every instance to have cancelled its consumer.</summary>
    private static readonly TimeSpan ConsumersGoneTimeout = TimeSpan.FromSeconds(10);

    private const int BatchSize = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.ExpiryCheckIntervalSeconds), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    var idle = await registry.ListIdleAsync(time.GetUtcNow(), BatchSize, stoppingToken).ConfigureAwait(false);
                    await Parallel.ForEachAsync(idle, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = stoppingToken },
                        async (queue, ct) => await ExpireAsync(queue, ct).ConfigureAwait(false)).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogRoundFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task ExpireAsync(QueueRecord queue, CancellationToken cancellationToken)
    {
        var figures = await topology.InspectUserQueueAsync(queue.UserId, cancellationToken).ConfigureAwait(false);
        if (figures is null)
        {
            await ForgetAsync(queue, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (figures.MessageCount > 0)
        {
            return; // messages wait: not idle, whatever the clock says
        }

        await publisher.PublishControlAsync(new ControlCommand(ControlAction.Park, queue.UserId), cancellationToken).ConfigureAwait(false);
        var watch = Stopwatch.StartNew();
        var deleted = false;
        while (watch.Elapsed < ConsumersGoneTimeout)
        {
            if (await topology.DeleteUserQueueIfIdleAsync(queue.UserId, cancellationToken).ConfigureAwait(false))
            {
                deleted = true;
                break;
            }

            if ((await topology.InspectUserQueueAsync(queue.UserId, cancellationToken).ConfigureAwait(false))?.MessageCount > 0)
            {
                break; // a message arrived: the queue is in use again
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), time, cancellationToken).ConfigureAwait(false);
        }

        if (deleted)
        {
            await ForgetAsync(queue, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            LogKept(logger, queue.UserId);
            await publisher.PublishControlAsync(new ControlCommand(ControlAction.Subscribe, queue.UserId), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ForgetAsync(QueueRecord queue, CancellationToken cancellationToken)
    {
        if (await registry.RemoveIfIdleAsync(queue.UserId, queue.LastActivityAt, cancellationToken).ConfigureAwait(false))
        {
            LogExpired(logger, queue.UserId, queue.TtlMs);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The queue of {UserId} expired: empty and unused for its TTL of {TtlMs} ms")]
    private static partial void LogExpired(ILogger logger, string userId, long ttlMs);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The queue of {UserId} looked idle but is in use again; it stays")]
    private static partial void LogKept(ILogger logger, string userId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "An expiry round failed; the next one tries again")]
    private static partial void LogRoundFailed(ILogger logger, Exception exception);
}
