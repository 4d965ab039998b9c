namespace UserQueues.Messaging;

/// <summary>
/// Every broker object name UserQueues uses. The per-user names are the seed design's, so
/// existing producers, dashboards and policies keep matching.
/// </summary>
public static class Topology
{
    /// <summary>Direct, durable exchange every user message is published to (seed name).</summary>
    public const string UserExchange = "user_exchange";

    /// <summary>Fanout exchange for control commands; every worker instance binds its own exclusive queue.</summary>
    public const string ControlExchange = "user_control";

    /// <summary>Direct exchange a message goes to when it can never be delivered.</summary>
    public const string DeadLetterExchange = "user_dead_letter";

    /// <summary>The queue holding dead letters of every user (the userId travels in a header).</summary>
    public const string DeadLetterQueue = "queue.dead_letter";

    /// <summary>Routing key the dead-letter queue is bound with; queues dead-letter with it.</summary>
    public const string DeadLetterRoutingKey = "dead";

    public const string QueuePrefix = "queue.user.";
    public const string RoutingKeyPrefix = "user.";

    /// <summary><c>queue.user.{userId}</c></summary>
    public static string QueueName(string userId) => QueuePrefix + userId;

    /// <summary><c>user.{userId}</c></summary>
    public static string RoutingKey(string userId) => RoutingKeyPrefix + userId;

    /// <summary>The userId of a queue name made by <see cref="QueueName"/>, or null.</summary>
    public static string? UserIdOfQueue(string queueName) =>
        queueName.StartsWith(QueuePrefix, StringComparison.Ordinal) && queueName.Length > QueuePrefix.Length
            ? queueName[QueuePrefix.Length..]
            : null;

    /// <summary>
    /// The arguments of a user queue. They are part of the queue's identity: declaring the same
    /// queue with other arguments fails (PRECONDITION_FAILED), so they are built here only.
    /// </summary>
    public static Dictionary<string, object?> UserQueueArguments(long ttlMs) => new()
    {
        // https://www.rabbitmq.com/docs/ttl#queue-ttl - deleted after ttlMs unused.
        [QueueArguments.Expires] = ttlMs,
        // One consumer at a time per queue, whatever the number of worker replicas: per-user order.
        // https://www.rabbitmq.com/docs/consumers#single-active-consumer
        [QueueArguments.SingleActiveConsumer] = true,
        // Rejected messages (not requeued) keep their body and headers in the dead-letter queue.
        [QueueArguments.DeadLetterExchange] = DeadLetterExchange,
        [QueueArguments.DeadLetterRoutingKey] = DeadLetterRoutingKey,
    };

    /// <summary>Queue argument names, as RabbitMQ spells them.</summary>
    public static class QueueArguments
    {
        public const string Expires = "x-expires";
        public const string SingleActiveConsumer = "x-single-active-consumer";
        public const string DeadLetterExchange = "x-dead-letter-exchange";
        public const string DeadLetterRoutingKey = "x-dead-letter-routing-key";
    }
}
