using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using UserQueues.Messaging;

namespace UserQueues.Worker.Consumers;

/// <summary>
/// Keeps the shared dead-letter inbox <c>queue.dead_letter</c> empty: at start (the dead letters of
/// the versions before per-user queues) and then every <see cref="WorkerOptions.DeadLetterSortIntervalSeconds"/>
/// (deliveries the broker dead-lettered after a rejection), each dead letter is moved to its user's
/// queue and only then acknowledged, so none is lost (<see cref="DeadLetters.SortInboxAsync"/>).
/// </summary>
/// <remarks>
/// REVIEW: with several worker replicas, passes can run at the same time; each moves the letters
/// it took, so one user's letters from the inbox may reach its queue interleaved between replicas.
/// </remarks>
internal sealed partial class DeadLetterSorter(DeadLetters deadLetters, IOptions<WorkerOptions> options, TimeProvider time, ILogger<DeadLetterSorter> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(options.Value.DeadLetterSortIntervalSeconds);
        var reportedUnsorted = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var result = await deadLetters.SortInboxAsync(stoppingToken).ConfigureAwait(false);
                if (result.Moved > 0)
                {
                    LogMoved(logger, result.Moved);
                }

                if (result.Unsorted != reportedUnsorted)
                {
                    // Said once per change, not every pass.
                    LogUnsorted(logger, result.Unsorted);
                    reportedUnsorted = result.Unsorted;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                LogPassFailed(logger, e);
            }

            try
            {
                await Task.Delay(interval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Moved {Count} dead letters from the shared inbox to their users' dead-letter queues")]
    private static partial void LogMoved(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} messages in the shared dead-letter inbox name no user (no x-user-id, not dead-lettered from a user queue); they stay there")]
    private static partial void LogUnsorted(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sorting the dead-letter inbox failed; the next pass tries again")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);
}
