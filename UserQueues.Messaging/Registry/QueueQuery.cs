namespace UserQueues.Messaging.Registry;

/// <summary>What the registry can order queues by (the columns it owns).</summary>
public enum QueueSortField
{
    UserId,
    Status,
    CreatedAt,
    LastActivity,
    Published,
    Delivered,
    Failed,
}

/// <summary>A page of the registry: 1-based <paramref name="Page"/>; <paramref name="Search"/> matches anywhere in the userId.</summary>
public sealed record QueueQuery(
    int Page = 1,
    int PageSize = 50,
    string? Search = null,
    ConsumerStatus? Status = null,
    QueueSortField Sort = QueueSortField.UserId,
    bool Descending = false);

/// <summary>The records of one page and the number of queues matching the query.</summary>
public sealed record QueuePage(IReadOnlyList<QueueRecord> Items, int Total);

/// <summary>Counts and counter sums over the whole registry.</summary>
public sealed record RegistryTotals(int Queues, int Running, int Stopped, long Published, long Delivered, long Failed);
