using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using UserQueues.Messaging;
using UserQueues.Messaging.Telemetry;

namespace UserQueues.Worker.Consumers;

/// <summary>
/// Moves messages whose delay is over from <c>queue.delay_ready</c> (the end of the delay levels)
/// to their user's queue: a confirmed, mandatory publish to <c>user_exchange</c>, declaring the
/// queue again if it went away while the message waited. Acknowledged only after that confirm,
/// so a crash in between delivers it again rather than losing it.
/// </summary>
internal sealed partial class DelayedForwarder(IConnection connection, UserQueueProvisioner provisioner, ILogger<DelayedForwarder> logger) : IAsyncDisposable
{
    /// <summary>Messages forwarded at once; each waits for its confirm.</summary>
    private const ushort Concurrency = 8;

    private IChannel? _channel;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: false, publisherConfirmationTrackingEnabled: false, consumerDispatchConcurrency: Concurrency),
            cancellationToken).ConfigureAwait(false);
        await _channel.BasicQosAsync(0, Concurrency * 4, global: false, cancellationToken).ConfigureAwait(false);
        await _channel.BasicConsumeAsync(Topology.DelayReadyQueue, autoAck: false, new Consumer(_channel, this), cancellationToken).ConfigureAwait(false);
    }

    private async Task ForwardAsync(IChannel channel, ulong deliveryTag, IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (UserMessage.TryRead(properties, body, out var error) is not { } message)
        {
            LogUnreadable(logger, error!);
            await channel.BasicRejectAsync(deliveryTag, requeue: false, cancellationToken).ConfigureAwait(false);
            return;
        }

        // The delay hop in the message's trace: a child of the publish into the delay levels (the
        // levels dead-letter with headers kept); the publish to the user's queue is its child.
        using var activity = UserQueuesTelemetry.StartForward(message);
        try
        {
            await provisioner.RepublishAsync(message, cancellationToken).ConfigureAwait(false);
            await channel.BasicAckAsync(deliveryTag, multiple: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is BrokerUnavailableException or UnroutableMessageException or QueueSettingsConflictException)
        {
            LogForwardFailed(logger, message.MessageId, e.Message);
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, e.GetType().Name);
            if (channel.IsOpen)
            {
                await channel.BasicNackAsync(deliveryTag, multiple: false, requeue: true, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _channel, null) is { } channel && await channel.CloseQuietlyAsync().ConfigureAwait(false) is { } problem)
        {
            LogCloseFailed(logger, problem);
        }
    }

    private sealed class Consumer(IChannel channel, DelayedForwarder forwarder) : AsyncDefaultBasicConsumer(channel)
    {
        public override Task HandleBasicDeliverAsync(string consumerTag, ulong deliveryTag, bool redelivered, string exchange,
            string routingKey, IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default) =>
            forwarder.ForwardAsync(Channel, deliveryTag, properties, body, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected an unreadable delayed message: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not forward delayed message {MessageId} ({Reason}); it is tried again")]
    private static partial void LogForwardFailed(ILogger logger, string messageId, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Closing the delay forwarding channel failed: {Reason}")]
    private static partial void LogCloseFailed(ILogger logger, string reason);
}
