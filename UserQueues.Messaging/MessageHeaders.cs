namespace UserQueues.Messaging;

/// <summary>AMQP header names UserQueues writes on every message.</summary>
public static class MessageHeaders
{
    /// <summary>The seed's attempt counter: 1 for the first delivery attempt.</summary>
    public const string Attempt = "x-attempt";
    public const string UserId = "x-user-id";
    public const string CallbackUrl = "x-callback-url";

    /// <summary>When the producer's request was accepted, Unix milliseconds.</summary>
    public const string PublishedAt = "x-published-at";

    /// <summary>Why a message was dead-lettered (a sentence for people).</summary>
    public const string DeadLetterReason = "x-dead-letter-reason";

    /// <summary>When the message was dead-lettered, Unix milliseconds.</summary>
    public const string DeadLetteredAt = "x-dead-lettered-at";

    /// <summary>HTTP status of the last attempt, when there was a response.</summary>
    public const string LastStatus = "x-last-status";

    /// <summary>
    /// Set by the broker when it dead-letters a message: the queue it left first
    /// (https://www.rabbitmq.com/docs/dlx#effects); names the user of a rejected delivery.
    /// </summary>
    public const string FirstDeathQueue = "x-first-death-queue";

    /// <summary>W3C trace context of the publish (https://www.w3.org/TR/trace-context/#traceparent-header).</summary>
    public const string TraceParent = "traceparent";

    /// <summary>W3C vendor trace state that goes with <see cref="TraceParent"/>.</summary>
    public const string TraceState = "tracestate";

    /// <summary>On a retry copy: the W3C <c>traceparent</c> of the previous attempt's process span, linked from the next one.</summary>
    public const string PreviousAttempt = "x-previous-attempt-traceparent";
}

/// <summary>Header names of the callback request (https://www.standardwebhooks.com/).</summary>
public static class WebhookHeaders
{
    public const string Id = "webhook-id";
    public const string Timestamp = "webhook-timestamp";
    public const string Signature = "webhook-signature";
}
