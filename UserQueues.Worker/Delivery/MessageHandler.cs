using Microsoft.Extensions.Logging;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;

namespace UserQueues.Worker.Delivery;

/// <summary>What the consumer must do with the delivery once the handler is done.</summary>
public enum Settlement
{
    /// <summary>Delivered, or safely dead-lettered: acknowledge.</summary>
    Ack,

    /// <summary>Could not be settled safely (e.g. the dead-letter publish failed): reject without requeue, so the queue's own dead-letter exchange keeps it.</summary>
    Reject,

    /// <summary>The worker is stopping mid-delivery: leave it unacknowledged, the broker delivers it again.</summary>
    Abandon,
}

/// <summary>
/// Delivers one message and decides its settlement. In this version every failed attempt goes
/// to the dead-letter queue with its reason; broker-managed retries come next (issue 3).
/// </summary>
public sealed partial class MessageHandler(
    CallbackClient callbacks,
    MessagePublisher publisher,
    QueueCounters counters,
    ILogger<MessageHandler> logger)
{
    public async Task<Settlement> HandleAsync(UserMessage message, CancellationToken cancellationToken)
    {
        using var scope = logger.BeginScope(new Dictionary<string, object>
        {
            ["MessageId"] = message.MessageId,
            ["UserId"] = message.UserId,
            ["Attempt"] = message.Attempt,
        });

        DeliveryResult result;
        try
        {
            result = await callbacks.PostAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Settlement.Abandon;
        }

        if (result.Verdict == DeliveryVerdict.Delivered)
        {
            counters.Delivered(message.UserId);
            LogDelivered(logger, message.MessageId, result.StatusCode ?? 0);
            return Settlement.Ack;
        }

        counters.Failed(message.UserId);
        LogFailed(logger, message.MessageId, result.Reason);
        try
        {
            await publisher.DeadLetterAsync(message, result.Reason, result.StatusCode, cancellationToken).ConfigureAwait(false);
            return Settlement.Ack;
        }
        catch (Exception e) when (e is BrokerUnavailableException or UnroutableMessageException)
        {
            LogDeadLetterFailed(logger, message.MessageId, e);
            return Settlement.Reject;
        }
    }

    /// <summary>A delivery that is not a UserQueues message at all; it is rejected into the queue's dead-letter exchange.</summary>
    public void Unreadable(string queue, string reason) => LogUnreadable(logger, queue, reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Delivered {MessageId} (HTTP {StatusCode})")]
    private static partial void LogDelivered(ILogger logger, string messageId, int statusCode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Delivery of {MessageId} failed: {Reason}; dead-lettering it")]
    private static partial void LogFailed(ILogger logger, string messageId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not dead-letter {MessageId}; rejecting it to the queue's dead-letter exchange")]
    private static partial void LogDeadLetterFailed(ILogger logger, string messageId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected an unreadable message from {Queue}: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, string queue, string reason);
}
