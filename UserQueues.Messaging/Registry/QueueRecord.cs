namespace UserQueues.Messaging.Registry;

/// <summary>Whether an operator wants a user's consumer to run. Persisted, so a restarted worker obeys it.</summary>
public enum ConsumerStatus
{
    Running,
    Stopped,
}

/// <summary>The seed's metadata of one user queue, plus the settings it was declared with.</summary>
public sealed record QueueRecord(
    string UserId,
    string QueueName,
    string RoutingKey,
    long TtlMs,
    DateTimeOffset CreatedAt,
    ConsumerStatus Status,
    long Published,
    long Delivered,
    long Failed,
    DateTimeOffset? LastActivityAt);

/// <summary>Counter increments of one queue, written in batches.</summary>
public readonly record struct CounterDelta(string UserId, long Published, long Delivered, long Failed);
