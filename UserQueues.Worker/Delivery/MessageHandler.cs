using System.Diagnostics;
using Microsoft.Extensions.Logging;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;
using UserQueues.Messaging.Telemetry;

namespace UserQueues.Worker.Delivery;

/// <summary>What the consumer must do with the delivery once the handler is done.</summary>
public enum Settlement
{
    /// <summary>Delivered, retried through the delay levels, or dead-lettered, each confirmed by the broker: acknowledge.</summary>
    Ack,

    /// <summary>
    /// Could not be settled safely (e.g. the dead-letter publish failed): reject without requeue, so
    /// the queue's own dead-letter exchange keeps it in the shared inbox, which the workers sort
    /// into the user's dead-letter queue (<see cref="DeadLetters.SortInboxAsync"/>).
    /// </summary>
    Reject,

    /// <summary>The retry copy could not be published: give the message back to the queue, it is delivered again.</summary>
    Requeue,

    /// <summary>Strict ordering: keep the message unacknowledged, wait <see cref="HandleOutcome.RetryIn"/>, attempt it again.</summary>
    RetryInPlace,

    /// <summary>The worker is stopping mid-delivery: leave it unacknowledged, the broker delivers it again.</summary>
    Abandon,
}

/// <summary>The settlement of one attempt, and for <see cref="Settlement.RetryInPlace"/> the wait before the next.</summary>
public readonly record struct HandleOutcome(Settlement Settlement, TimeSpan RetryIn = default)
{
    /// <summary>The attempt's process span, which an attempt in place after it links to.</summary>
    public ActivityContext AttemptSpan { get; init; }
}

/// <summary>
/// Delivers one message and decides what becomes of it (ARCHITECTURE.md, delivery contract):
/// delivered → ack; retryable with attempts left → a copy with <c>x-attempt</c> + 1 goes through
/// the delay levels and the original is acked only once the copy is confirmed (or, in strict
/// ordering, the same message is attempted again in place); permanent or exhausted → the
/// user's dead-letter queue (declared with its first dead letter), with why.
/// </summary>
public sealed partial class MessageHandler(
    CallbackClient callbacks,
    RetryPolicy retryPolicy,
    MessagePublisher publisher,
    DeadLetters deadLetters,
    QueueCounters counters,
    TimeProvider time,
    ILogger<MessageHandler> logger)
{
    /// <summary>
    /// One delivery attempt, in its own process span (kind Consumer) whose parent is the publish
    /// context the message carried; the callback's HTTP client span is its child.
    /// </summary>
    public async Task<HandleOutcome> HandleAsync(UserMessage message, QueueOrdering ordering, CancellationToken cancellationToken)
    {
        using var activity = UserQueuesTelemetry.StartProcess(message);
        var outcome = await HandleAttemptAsync(message, ordering, activity, cancellationToken).ConfigureAwait(false);
        return activity is null ? outcome : outcome with { AttemptSpan = activity.Context };
    }

    private async Task<HandleOutcome> HandleAttemptAsync(UserMessage message, QueueOrdering ordering, Activity? activity, CancellationToken cancellationToken)
    {
        // Inside the process span: log records carry its trace and span id.
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
            UserQueuesTelemetry.SetOutcome(activity, UserQueuesTelemetry.Outcomes.Abandoned, null);
            return new HandleOutcome(Settlement.Abandon);
        }

        if (result.Verdict == DeliveryVerdict.Delivered)
        {
            counters.Delivered(message.UserId);
            UserQueuesTelemetry.Delivered(message, time.GetUtcNow());
            UserQueuesTelemetry.SetOutcome(activity, UserQueuesTelemetry.Outcomes.Delivered, result.StatusCode);
            LogDelivered(logger, message.MessageId, result.StatusCode ?? 0);
            return new HandleOutcome(Settlement.Ack);
        }

        counters.Failed(message.UserId);
        if (result.Verdict == DeliveryVerdict.Retryable
            && retryPolicy.NextDelay(message.Attempt, result.RetryAfter, Random.Shared.NextDouble()) is { } delay)
        {
            return await RetryAsync(message, ordering, result, delay, activity, cancellationToken).ConfigureAwait(false);
        }

        var exhausted = result.Verdict == DeliveryVerdict.Retryable;
        var reason = exhausted
            ? $"gave up after {message.Attempt} attempts; the last one: {result.Reason}"
            : result.Reason;
        return await DeadLetterAsync(message, reason, result.StatusCode, exhausted, activity, cancellationToken).ConfigureAwait(false);
    }

    private async Task<HandleOutcome> RetryAsync(UserMessage message, QueueOrdering ordering, DeliveryResult result, TimeSpan delay, Activity? activity, CancellationToken cancellationToken)
    {
        counters.Retried(message.UserId);
        LogRetrying(logger, message.MessageId, message.Attempt, result.Reason, delay.TotalSeconds);
        UserQueuesTelemetry.SetOutcome(activity, UserQueuesTelemetry.Outcomes.Retry, result.StatusCode);
        if (ordering == QueueOrdering.Strict)
        {
            UserQueuesTelemetry.Retried(inPlace: true);
            return new HandleOutcome(Settlement.RetryInPlace, delay);
        }

        try
        {
            // The copy's publish span is a child of this attempt's span; the next attempt links to it.
            var copy = message with { Attempt = message.Attempt + 1, PreviousAttempt = activity?.Context ?? default };
            await publisher.PublishAsync(copy, delay, cancellationToken).ConfigureAwait(false);
            UserQueuesTelemetry.Retried(inPlace: false);
            return new HandleOutcome(Settlement.Ack);
        }
        catch (BrokerUnavailableException e)
        {
            // The original stays in the queue: nothing is lost, it is attempted again.
            LogRetryPublishFailed(logger, message.MessageId, e.Message);
            UserQueuesTelemetry.SetOutcome(activity, UserQueuesTelemetry.Outcomes.Requeued, result.StatusCode);
            return new HandleOutcome(Settlement.Requeue);
        }
    }

    private async Task<HandleOutcome> DeadLetterAsync(UserMessage message, string reason, int? lastStatus, bool exhausted, Activity? activity, CancellationToken cancellationToken)
    {
        LogDeadLettering(logger, message.MessageId, reason);
        UserQueuesTelemetry.SetOutcome(activity, UserQueuesTelemetry.Outcomes.DeadLettered, lastStatus);
        try
        {
            await deadLetters.AddAsync(message, reason, lastStatus, cancellationToken).ConfigureAwait(false);
            counters.DeadLettered(message.UserId);
            UserQueuesTelemetry.DeadLettered(exhausted);
            return new HandleOutcome(Settlement.Ack);
        }
        catch (Exception e) when (e is BrokerUnavailableException or UnroutableMessageException)
        {
            LogDeadLetterFailed(logger, message.MessageId, e);
            return new HandleOutcome(Settlement.Reject);
        }
    }

    /// <summary>A delivery that is not a UserQueues message at all; it is rejected into the queue's dead-letter exchange.</summary>
    public void Unreadable(string queue, string reason) => LogUnreadable(logger, queue, reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Delivered {MessageId} (HTTP {StatusCode})")]
    private static partial void LogDelivered(ILogger logger, string messageId, int statusCode);

    [LoggerMessage(Level = LogLevel.Information, Message = "Attempt {Attempt} of {MessageId} failed: {Reason}; retrying in {Seconds} s")]
    private static partial void LogRetrying(ILogger logger, string messageId, int attempt, string reason, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish the retry of {MessageId} ({Reason}); it goes back to its queue")]
    private static partial void LogRetryPublishFailed(ILogger logger, string messageId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dead-lettering {MessageId}: {Reason}")]
    private static partial void LogDeadLettering(ILogger logger, string messageId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not dead-letter {MessageId}; rejecting it to the queue's dead-letter exchange")]
    private static partial void LogDeadLetterFailed(ILogger logger, string messageId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected an unreadable message from {Queue}: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, string queue, string reason);
}
