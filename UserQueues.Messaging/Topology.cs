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

    /// <summary>
    /// The shared dead-letter inbox: where the broker's own dead-lettering lands (a delivery the
    /// worker rejected; the user queues' <c>x-dead-letter-routing-key</c> is part of their identity
    /// and stays <see cref="DeadLetterRoutingKey"/>), and where every dead letter went before the
    /// per-user dead-letter queues. The workers sort it into <see cref="DeadLetterQueueName"/>.
    /// </summary>
    public const string DeadLetterQueue = "queue.dead_letter";

    /// <summary>Routing key the shared inbox is bound with; user queues and the delay-ready queue dead-letter with it.</summary>
    public const string DeadLetterRoutingKey = "dead";

    public const string DeadLetterQueuePrefix = "queue.dead_letter.";
    public const string DeadLetterRoutingKeyPrefix = "dead.";

    /// <summary>
    /// <c>queue.dead_letter.{userId}</c>: one user's dead letters. Declared when the user's first
    /// message is dead-lettered, so a user without dead letters costs no broker object; a list
    /// reads only this queue, a purge is one <c>queue.purge</c>. Not <c>queue.user.{userId}.…</c>:
    /// that would read as the user queue of another userId (userIds may contain dots).
    /// </summary>
    public static string DeadLetterQueueName(string userId) => DeadLetterQueuePrefix + userId;

    /// <summary><c>dead.{userId}</c>: the binding of <see cref="DeadLetterQueueName"/> on <see cref="DeadLetterExchange"/>.</summary>
    public static string DeadLetterRoutingKeyOf(string userId) => DeadLetterRoutingKeyPrefix + userId;

    /// <summary>The userId of a queue name made by <see cref="DeadLetterQueueName"/>, or null.</summary>
    public static string? UserIdOfDeadLetterQueue(string queueName) =>
        queueName.StartsWith(DeadLetterQueuePrefix, StringComparison.Ordinal) && queueName.Length > DeadLetterQueuePrefix.Length
            ? queueName[DeadLetterQueuePrefix.Length..]
            : null;

    /// <summary>
    /// The arguments of a per-user dead-letter queue, built here only like <see cref="UserQueueArguments"/>.
    /// None: it is never consumed (read with <c>basic.get</c>), so no single active consumer; it is
    /// the end of the line, so no dead-letter exchange of its own; and no <c>x-expires</c>: dead
    /// letters stay however long nobody looks at them (only a purge removes an emptied queue). The
    /// default classic queue version, like the user queues: version 2 took more memory per queue
    /// on RabbitMQ 3.10 (bench/README.md, "Dead letters").
    /// </summary>
    public static Dictionary<string, object?> DeadLetterQueueArguments() => [];

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
    /// <remarks>
    /// No <c>x-expires</c>: RabbitMQ counts a queue without consumers as unused even when it holds
    /// messages, so a broker-side expiry would delete waiting messages whenever no worker consumes
    /// (stopped by an admin, or every worker down). The queue's idle TTL is kept in the registry
    /// and the workers' janitor deletes a queue only when the broker itself confirms it is empty
    /// and unused (<c>queue.delete</c> with if-empty and if-unused).
    /// </remarks>
    public static Dictionary<string, object?> UserQueueArguments() => new()
    {
        // One consumer at a time per queue, whatever the number of worker replicas: per-user order.
        // https://www.rabbitmq.com/docs/consumers#single-active-consumer
        [QueueArguments.SingleActiveConsumer] = true,
        // Rejected messages (not requeued) keep their body and headers in the dead-letter queue.
        [QueueArguments.DeadLetterExchange] = DeadLetterExchange,
        [QueueArguments.DeadLetterRoutingKey] = DeadLetterRoutingKey,
    };

    /// <summary>
    /// Binary delay levels (the NServiceBus design): level k is a topic exchange and a queue whose
    /// messages all wait 2^k seconds, then dead-letter to level k-1. A delayed message is published
    /// to the top level with a routing key of one word per level, "1" where that level's bit of the
    /// delay is set and "0" where it is not; each level either parks it in its queue or passes it
    /// straight down. A fixed number of broker objects for every user and every delay, durable, and
    /// no head-of-line blocking: within one level every message waits the same time.
    /// </summary>
    public const int DelayLevels = 20;

    /// <summary>The longest delay the levels can express: 2^20 - 1 s, about 12 days.</summary>
    public const long MaxLevelDelaySeconds = (1L << DelayLevels) - 1;

    /// <summary>Fanout exchange after level 0; its queue is forwarded to <see cref="UserExchange"/> by the workers.</summary>
    public const string DelayReadyExchange = "user_delay_ready";

    public const string DelayReadyQueue = "queue.delay_ready";

    /// <summary>An unreadable message in the ready queue is dead-lettered, never dropped.</summary>
    public static Dictionary<string, object?> DelayReadyArguments() => new()
    {
        [QueueArguments.DeadLetterExchange] = DeadLetterExchange,
        [QueueArguments.DeadLetterRoutingKey] = DeadLetterRoutingKey,
    };

    /// <summary><c>user_delay.07</c>: the exchange and the queue of level 7 (messages wait 128 s).</summary>
    public static string DelayLevelName(int level) => $"user_delay.{level:00}";

    /// <summary>The exchange a message leaves level <paramref name="level"/> for.</summary>
    public static string BelowDelayLevel(int level) => level == 0 ? DelayReadyExchange : DelayLevelName(level - 1);

    /// <summary>Words from the top level down: delay 5 s → "0.….0.1.0.1".</summary>
    public static string DelayRoutingKey(long delaySeconds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delaySeconds, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(delaySeconds, MaxLevelDelaySeconds);
        return string.Join('.', Enumerable.Range(0, DelayLevels).Reverse().Select(level => ((delaySeconds >> level) & 1) == 1 ? "1" : "0"));
    }

    /// <summary>The topic pattern that picks the messages whose bit of level <paramref name="level"/> is <paramref name="bit"/>.</summary>
    public static string DelayLevelPattern(int level, char bit) =>
        string.Concat(Enumerable.Repeat("*.", DelayLevels - 1 - level)) + bit + ".#";

    public static Dictionary<string, object?> DelayLevelArguments(int level) => new()
    {
        [QueueArguments.MessageTtl] = (1L << level) * 1000,
        [QueueArguments.DeadLetterExchange] = BelowDelayLevel(level),
    };

    /// <summary>Queue argument names, as RabbitMQ spells them.</summary>
    public static class QueueArguments
    {
        public const string SingleActiveConsumer = "x-single-active-consumer";
        public const string DeadLetterExchange = "x-dead-letter-exchange";
        public const string DeadLetterRoutingKey = "x-dead-letter-routing-key";
        public const string MessageTtl = "x-message-ttl";
    }
}
