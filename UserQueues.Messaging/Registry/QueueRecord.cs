namespace UserQueues.Messaging.Registry;

/// <summary>Whether an operator wants a user's consumer to run. Persisted, so a restarted worker obeys it.</summary>
public enum ConsumerStatus
{
    Running,
    Stopped,
}

/// <summary>How a user's queue treats a message whose delivery failed and will be retried.</summary>
public enum QueueOrdering
{
    /// <summary>The seed's behaviour: the retry re-enters through the delay levels; the user's next messages go on meanwhile.</summary>
    Default,

    /// <summary>The head message is retried in place; that user's queue waits for it (other users are unaffected).</summary>
    Strict,
}

/// <summary>The seed's metadata of one user queue, plus the settings it was declared with.</summary>
public sealed record QueueRecord(
    string UserId,
    string QueueName,
    string RoutingKey,
    long TtlMs,
    QueueOrdering Ordering,
    DateTimeOffset CreatedAt,
    ConsumerStatus Status,
    QueueCounts Counts,
    DateTimeOffset? LastActivityAt);

/// <summary>
/// A queue's delivery counters: messages published, delivered (2xx), failed attempts, retries
/// scheduled, and messages dead-lettered.
/// </summary>
public readonly record struct QueueCounts(long Published, long Delivered, long Failed, long Retried, long DeadLettered);

/// <summary>Counter increments of one queue, written in batches.</summary>
public readonly record struct CounterDelta(string UserId, QueueCounts Counts);
