using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;
using UserQueues.Worker.Delivery;

namespace UserQueues.Worker.Consumers;

/// <summary>
/// The consumer of one user's queue. Deliveries are handed to the user's own loop, which delivers
/// one message at a time (per-user order) while other users' loops run concurrently under the
/// pool's global bound. The channel's dispatcher is never blocked by a slow callback.
/// </summary>
internal sealed partial class UserConsumer : AsyncDefaultBasicConsumer, IDisposable
{
    private readonly Channel<PendingDelivery> _inbox = System.Threading.Channels.Channel.CreateUnbounded<PendingDelivery>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
    private readonly string _queue;
    private readonly DeliveryGate _gate;
    private readonly MessageHandler _handler;
    private readonly ILogger _logger;
    private readonly CancellationToken _abort;
    private Task _loop = Task.CompletedTask;
    private int _generation;
    private int _unacked;
    private volatile bool _draining;
    private volatile bool _cancelled;
    private readonly CancellationTokenSource _drain = new();

    private readonly QueueOrdering _ordering;

    public UserConsumer(IChannel channel, string userId, QueueOrdering ordering, DeliveryGate gate, MessageHandler handler, ILogger logger, CancellationToken abort)
        : base(channel)
    {
        UserId = userId;
        _ordering = ordering;
        _queue = Topology.QueueName(userId);
        _gate = gate;
        _handler = handler;
        _logger = logger;
        _abort = abort;
    }

    public string UserId { get; }

    /// <summary>Deliveries received and not settled yet (buffered or in flight), for the unacked gauge.</summary>
    public int Unacked => Volatile.Read(ref _unacked);

    /// <summary>False once the broker or this worker cancelled the consumer, or its channel failed for good.</summary>
    public bool IsActive => !_cancelled && !_draining;

    public void Start() => _loop = Task.Run(RunAsync, CancellationToken.None);

    public override async Task HandleBasicCancelAsync(string consumerTag, CancellationToken cancellationToken = default)
    {
        // The broker cancelled us: the queue was deleted (expired). Buffered messages went with it.
        MarkCancelled();
        await base.HandleBasicCancelAsync(consumerTag, cancellationToken).ConfigureAwait(false);
    }

    public override async Task HandleBasicCancelOkAsync(string consumerTag, CancellationToken cancellationToken = default)
    {
        // Our own cancel completed: nothing more arrives; the loop requeues what is still buffered.
        _draining = true;
        _inbox.Writer.TryComplete();
        await base.HandleBasicCancelOkAsync(consumerTag, cancellationToken).ConfigureAwait(false);
    }

    public override async Task HandleChannelShutdownAsync(object channel, ShutdownEventArgs reason)
    {
        // Unacknowledged deliveries of the closed channel are redelivered by the broker; the buffered
        // copies must not be delivered as well. After a connection recovery the client library
        // re-registers this consumer on the recovered channel and deliveries resume.
        Interlocked.Increment(ref _generation);
        await base.HandleChannelShutdownAsync(channel, reason).ConfigureAwait(false);
    }

    /// <summary>The channel failed for good (not a connection recovery): this consumer is gone.</summary>
    public void MarkCancelled()
    {
        _cancelled = true;
        Interlocked.Increment(ref _generation);
        _inbox.Writer.TryComplete();
    }

    public override async Task HandleBasicDeliverAsync(string consumerTag, ulong deliveryTag, bool redelivered,
        string exchange, string routingKey, IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body,
        CancellationToken cancellationToken = default)
    {
        if (UserMessage.TryRead(properties, body, out var error) is not { } message)
        {
            _handler.Unreadable(_queue, error!);
            await SettleAsync(deliveryTag, Settlement.Reject).ConfigureAwait(false);
            return;
        }

        Interlocked.Increment(ref _unacked);
        if (!_inbox.Writer.TryWrite(new PendingDelivery(deliveryTag, message, Volatile.Read(ref _generation))))
        {
            Interlocked.Decrement(ref _unacked);
            // Arrived after this consumer was cancelled: give it back, in order, to the next consumer.
            await RequeueAsync(deliveryTag).ConfigureAwait(false);
        }
    }

    /// <summary>Cancels the consumer; the in-flight delivery finishes, buffered ones are requeued.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        // A strict-ordering wait between attempts ends now; an HTTP attempt in flight finishes.
        await _drain.CancelAsync().ConfigureAwait(false);
        foreach (var tag in ConsumerTags)
        {
            try
            {
                await Channel.BasicCancelAsync(tag, noWait: false, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogCancelFailed(_logger, _queue, e.Message);
            }
        }

        _inbox.Writer.TryComplete();
        await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        // Whatever span started this loop (a control command, a reconciliation) is not the parent
        // of the deliveries: each process span's parent comes from its message's headers.
        Activity.Current = null;
        try
        {
            await foreach (var delivery in _inbox.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                try
                {
                    if (delivery.Generation != Volatile.Read(ref _generation))
                    {
                        continue;
                    }

                    if (_draining || _abort.IsCancellationRequested)
                    {
                        await RequeueAsync(delivery.DeliveryTag).ConfigureAwait(false);
                        continue;
                    }

                    await DeliverAsync(delivery).ConfigureAwait(false);
                }
                finally
                {
                    Interlocked.Decrement(ref _unacked);
                }
            }
        }
        catch (Exception e)
        {
            LogLoopFailed(_logger, _queue, e);
        }
    }

    private async Task DeliverAsync(PendingDelivery delivery)
    {
        var message = delivery.Message;
        while (true)
        {
            HandleOutcome outcome;
            try
            {
                await _gate.WaitAsync(_abort).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                outcome = await _handler.HandleAsync(message, _ordering, _abort).ConfigureAwait(false);
            }
            finally
            {
                _gate.Release();
            }

            if (delivery.Generation != Volatile.Read(ref _generation))
            {
                return; // the channel went away meanwhile: the broker redelivers the message
            }

            if (outcome.Settlement != Settlement.RetryInPlace)
            {
                await SettleAsync(delivery.DeliveryTag, outcome.Settlement).ConfigureAwait(false);
                return;
            }

            // Strict ordering: the message stays unacknowledged at the head of this user's queue
            // (nothing is lost if the worker stops now) while the global delivery slot is free for
            // other users. REVIEW: the attempt count lives in memory, so a redelivery after a
            // worker restart starts counting again.
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(_abort, _drain.Token);
            try
            {
                await Task.Delay(outcome.RetryIn, wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_abort.IsCancellationRequested)
            {
                // Stopped while waiting: the message goes back to the head of its queue.
                await RequeueAsync(delivery.DeliveryTag).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }

            // The next attempt's process span links to this one (same trace: same publish parent).
            message = message with { Attempt = message.Attempt + 1, PreviousAttempt = outcome.AttemptSpan };
        }
    }

    private async Task SettleAsync(ulong deliveryTag, Settlement settlement)
    {
        try
        {
            switch (settlement)
            {
                case Settlement.Ack:
                    await Channel.BasicAckAsync(deliveryTag, multiple: false).ConfigureAwait(false);
                    break;
                case Settlement.Reject:
                    await Channel.BasicRejectAsync(deliveryTag, requeue: false).ConfigureAwait(false);
                    break;
                case Settlement.Requeue:
                    await Channel.BasicNackAsync(deliveryTag, multiple: false, requeue: true).ConfigureAwait(false);
                    break;
                case Settlement.RetryInPlace:
                case Settlement.Abandon:
                    break;
            }
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or OperationCanceledException or IOException)
        {
            // The channel is gone: the broker redelivers the message (at-least-once).
            LogSettleFailed(_logger, _queue, e.Message);
        }
    }

    private Task RequeueAsync(ulong deliveryTag) => Channel.IsOpen
        ? SafeAsync(Channel.BasicNackAsync(deliveryTag, multiple: false, requeue: true))
        : Task.CompletedTask;

    private async Task SafeAsync(ValueTask operation)
    {
        try
        {
            await operation.ConfigureAwait(false);
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or OperationCanceledException or IOException)
        {
            LogSettleFailed(_logger, _queue, e.Message);
        }
    }

    /// <summary>After <see cref="StopAsync"/>; a consumer that died on its own needs no disposing (its token source has no timer).</summary>
    public void Dispose() => _drain.Dispose();

    private readonly record struct PendingDelivery(ulong DeliveryTag, UserMessage Message, int Generation);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not settle a delivery from {Queue} ({Reason}); the broker will redeliver it")]
    private static partial void LogSettleFailed(ILogger logger, string queue, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not cancel the consumer of {Queue}: {Reason}")]
    private static partial void LogCancelFailed(ILogger logger, string queue, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "The delivery loop of {Queue} failed")]
    private static partial void LogLoopFailed(ILogger logger, string queue, Exception exception);
}
