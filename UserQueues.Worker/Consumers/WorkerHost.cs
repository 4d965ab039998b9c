using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using UserQueues.Messaging.Registry;

namespace UserQueues.Worker.Consumers;

/// <summary>
/// Runs the consumer pool: listens for control commands, subscribes every running queue of the
/// registry at start, and reconciles periodically (and at once when a channel failed), so that a
/// lost command or a broker hiccup is repaired without anyone noticing.
/// </summary>
internal sealed partial class WorkerHost(
    ConsumerPool pool,
    ControlListener control,
    DelayedForwarder forwarder,
    IQueueRegistry registry,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<WorkerHost> logger) : BackgroundService
{
    /// <summary>Queues found missing on the broker are looked for again every this many reconciliations.</summary>
    private const int MissingRetryEvery = 6;

    private readonly SemaphoreSlim _repair = new(0, 1);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Commands first, so nothing created while the registry is read is missed.
        await control.StartAsync(cancellationToken).ConfigureAwait(false);
        await forwarder.StartAsync(cancellationToken).ConfigureAwait(false);
        pool.RepairNeeded += RequestRepair;
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(options.Value.ReconcileIntervalSeconds);
        for (var round = 0; !stoppingToken.IsCancellationRequested; round++)
        {
            try
            {
                var asOf = pool.CommandClock;
                var running = await registry.ListAsync(ConsumerStatus.Running, stoppingToken).ConfigureAwait(false);
                var started = time.GetTimestamp();
                await pool.ReconcileAsync(running, retryMissing: round % MissingRetryEvery == 0, asOf, first: round == 0, stoppingToken).ConfigureAwait(false);
                var took = time.GetElapsedTime(started).TotalMilliseconds;
                if (round == 0)
                {
                    // How long a restarted worker leaves users without deliveries, and which part is ours.
                    using var self = Process.GetCurrentProcess();
                    LogFirstReconciled(logger, pool.ActiveCount, running.Count, took, (DateTime.Now - self.StartTime).TotalMilliseconds);
                }
                else
                {
                    LogReconciled(logger, pool.ActiveCount, running.Count, pool.Missing.Count, took);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                LogReconcileFailed(logger, e);
            }

            try
            {
                await _repair.WaitAsync(interval, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        pool.RepairNeeded -= RequestRepair;
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await control.DisposeAsync().ConfigureAwait(false);
        await forwarder.DisposeAsync().ConfigureAwait(false);
        await pool.StopAsync(TimeSpan.FromSeconds(options.Value.ShutdownTimeoutSeconds)).ConfigureAwait(false);
    }

    private void RequestRepair()
    {
        if (_repair.CurrentCount == 0)
        {
            try
            {
                _repair.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already requested.
            }
        }
    }

    public override void Dispose()
    {
        _repair.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Reconciled: consuming {Active} of {Running} running queues ({Missing} not on the broker) in {Milliseconds} ms")]
    private static partial void LogReconciled(ILogger logger, int active, int running, int missing, double milliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Consuming {Active} of {Running} running queues: the first reconciliation took {Milliseconds} ms and ended {Uptime} ms after the process started")]
    private static partial void LogFirstReconciled(ILogger logger, int active, int running, double milliseconds, double uptime);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reconciliation failed; retrying at the next interval")]
    private static partial void LogReconcileFailed(ILogger logger, Exception exception);
}
