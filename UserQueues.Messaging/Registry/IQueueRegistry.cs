namespace UserQueues.Messaging.Registry;

/// <summary>
/// The durable list of user queues and their metadata. The broker owns the messages and their live
/// figures; the registry owns what the broker cannot know: who created what, when, with which
/// settings, whether an operator stopped it, and the delivery counters.
/// </summary>
public interface IQueueRegistry
{
    /// <summary>Creates the schema if needed.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    Task<QueueRecord?> FindAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Records a queue if it is not recorded yet; returns the record as stored.</summary>
    Task<QueueRecord> RegisterAsync(string userId, long ttlMs, QueueOrdering ordering, DateTimeOffset createdAt, CancellationToken cancellationToken);

    /// <summary>Every queue, or the ones with <paramref name="status"/>, ordered by userId.</summary>
    Task<IReadOnlyList<QueueRecord>> ListAsync(ConsumerStatus? status, CancellationToken cancellationToken);

    /// <summary>Sets the desired consumer status; false when the user has no queue.</summary>
    Task<bool> SetStatusAsync(string userId, ConsumerStatus status, CancellationToken cancellationToken);

    /// <summary>Marks the queue as used now (its idle time starts again).</summary>
    Task TouchAsync(string userId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Running queues whose last activity is older than their TTL at <paramref name="now"/>, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<QueueRecord>> ListIdleAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Forgets an expired queue, unless it was used after <paramref name="lastActivityAt"/> (then
    /// it was declared or used again meanwhile and stays). True when it was removed.
    /// </summary>
    Task<bool> RemoveIfIdleAsync(string userId, DateTimeOffset? lastActivityAt, CancellationToken cancellationToken);
    /// <summary>Sets the desired consumer status of every queue in one statement; returns how many queues changed.</summary>
    Task<int> SetAllStatusAsync(ConsumerStatus status, CancellationToken cancellationToken);

    /// <summary>One page of the queues matching <paramref name="query"/>, and how many match in all.</summary>
    Task<QueuePage> QueryAsync(QueueQuery query, CancellationToken cancellationToken);

    /// <summary>Queue counts by status and counter sums over every queue.</summary>
    Task<RegistryTotals> TotalsAsync(CancellationToken cancellationToken);

    /// <summary>Adds counter increments, all in one transaction.</summary>
    Task AddCountsAsync(IReadOnlyCollection<CounterDelta> deltas, DateTimeOffset at, CancellationToken cancellationToken);
}
