using System.Text.Json.Serialization;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;

namespace UserQueues.Api.Apis;

/// <summary>Body of the per-user admin endpoints (for the OpenAPI document; the handler validates the raw JSON).</summary>
internal sealed record AdminUserRequest(string UserId);

internal sealed record ConsumerActionResponse(bool Success, string UserId, string Status);

internal sealed record ResetQueueResponse(bool Success, string UserId, uint Purged);

/// <summary>Answer of stop-all, start-all and reset-all: <paramref name="Affected"/> queues changed (or purged).</summary>
internal sealed record AllActionResponse(bool Success, int Queues, int Affected, long Purged, long ElapsedMs);

/// <summary>
/// One queue as the admin sees it. <c>ready</c> and <c>consumers</c> come from a passive declare
/// made for this answer (or the snapshot when <c>liveFigures</c> says so); <c>unacked</c> and the
/// rates from the background snapshot of the management API (null before its first success);
/// the rest from the registry.
/// </summary>
internal sealed record QueueView(
    string UserId,
    string QueueName,
    string RoutingKey,
    string Status,
    long TtlMs,
    string Ordering,
    DateTimeOffset CreatedAt,
    DateTimeOffset? LastActivityAt,
    long Published,
    long Delivered,
    long Retried,
    long DeadLettered,
    long Ready,
    long Consumers,
    long? Unacked,
    double? PublishRate,
    double? DeliverRate,
    bool? OnBroker)
{
    public static QueueView Of(QueueRecord record, BrokerSnapshot snapshot, IReadOnlyDictionary<string, LiveQueueFigures>? live)
    {
        var known = snapshot.TakenAt is not null;
        var inSnapshot = snapshot.Queues.TryGetValue(record.UserId, out var figures);
        long ready, consumers;
        bool? onBroker;
        if (live is not null)
        {
            onBroker = live.TryGetValue(record.UserId, out var now);
            (ready, consumers) = (now.Ready, now.Consumers);
        }
        else
        {
            onBroker = known ? inSnapshot : null;
            (ready, consumers) = (figures.Ready, figures.Consumers);
        }

        return new QueueView(
            record.UserId, record.QueueName, record.RoutingKey, StatusName(record.Status), record.TtlMs,
            record.Ordering == QueueOrdering.Strict ? "strict" : "default",
            record.CreatedAt, record.LastActivityAt, record.Counts.Published, record.Counts.Delivered,
            Retried: record.Counts.Retried,
            DeadLettered: record.Counts.DeadLettered,
            ready, consumers,
            Unacked: known ? figures.Unacked : null,
            PublishRate: known ? Math.Round(figures.PublishRate, 2) : null,
            DeliverRate: known ? Math.Round(figures.DeliverRate, 2) : null,
            onBroker);
    }

    public static string StatusName(ConsumerStatus status) => status == ConsumerStatus.Stopped ? "stopped" : "running";
}

/// <summary>Over every queue: counts and counters from the registry, broker figures from the snapshot.</summary>
internal sealed record QueueTotals(
    int Queues, int Running, int Stopped,
    long Published, long Delivered, long Retried, long DeadLettered,
    long Ready, long Unacked, long Consumers, double PublishRate, double DeliverRate);

/// <summary>How fresh the background snapshot is: <c>ageMs</c> since it was taken, <c>error</c> of the last failed attempt.</summary>
internal sealed record SnapshotInfo(DateTimeOffset? TakenAt, long? AgeMs, long DurationMs, int Queues, string? Error)
{
    public static SnapshotInfo Of(BrokerSnapshot snapshot, TimeProvider time) => new(
        snapshot.TakenAt,
        snapshot.TakenAt is { } at ? (long)(time.GetUtcNow() - at).TotalMilliseconds : null,
        (long)snapshot.Duration.TotalMilliseconds,
        snapshot.Queues.Count,
        snapshot.Error);
}

internal sealed record QueueListResponse(
    bool Success, int Page, int PageSize, int Total, QueueTotals Totals, SnapshotInfo Snapshot, string LiveFigures,
    IReadOnlyList<QueueView> Queues);

internal sealed record QueueDetailResponse(bool Success, QueueView Queue, SnapshotInfo Snapshot);

internal sealed record AuditView(long Id, DateTimeOffset At, string Actor, string Action, string? Target, string? Detail);

internal sealed record AuditListResponse(bool Success, int Page, int PageSize, int Total, IReadOnlyList<AuditView> Entries);

/// <summary>A sort by a broker figure, applied in memory over the snapshot.</summary>
internal sealed record LiveSort(Func<SnapshotQueueFigures, double> Key, bool Descending);

/// <summary>Query string of <c>GET /admin/queues</c>: <c>sort</c> is a field name, <c>-</c> in front for descending.</summary>
internal sealed record QueueListParameters(int? Page, int? PageSize, string? Search, string? Status, string? Sort)
{
    public const int MaxPageSize = 500;
    public const int DefaultPageSize = 50;

    public static readonly IReadOnlyList<string> SortFields =
        ["userId", "status", "createdAt", "lastActivity", "published", "delivered", "deadLettered", "ready", "unacked", "consumers"];

    public Dictionary<string, string[]>? Validate(out QueueQuery query, out LiveSort? liveSort)
    {
        var errors = new Dictionary<string, string[]>();
        query = new QueueQuery();
        liveSort = null;

        if (Page is < 1)
        {
            errors["page"] = ["page starts at 1."];
        }

        if (PageSize is < 1 or > MaxPageSize)
        {
            errors["pageSize"] = [$"pageSize must be between 1 and {MaxPageSize}."];
        }

        ConsumerStatus? status = Status?.ToLowerInvariant() switch
        {
            null or "" or "all" => null,
            "running" => ConsumerStatus.Running,
            "stopped" => ConsumerStatus.Stopped,
            _ => (ConsumerStatus?)(-1),
        };
        if (status is (ConsumerStatus)(-1))
        {
            errors["status"] = ["status is 'running', 'stopped' or 'all'."];
        }

        if (Search is { Length: > UserIds.MaxLength })
        {
            errors["search"] = [$"search is at most {UserIds.MaxLength} characters."];
        }

        var descending = Sort is ['-', ..];
        var field = (descending ? Sort![1..] : Sort) ?? "userId";
        QueueSortField? sortField = field.ToLowerInvariant() switch
        {
            "" or "userid" => QueueSortField.UserId,
            "status" => QueueSortField.Status,
            "createdat" => QueueSortField.CreatedAt,
            "lastactivity" or "lastactivityat" => QueueSortField.LastActivity,
            "published" => QueueSortField.Published,
            "delivered" => QueueSortField.Delivered,
            "deadlettered" or "failed" => QueueSortField.Failed,
            _ => null,
        };
        liveSort = field.ToLowerInvariant() switch
        {
            "ready" => new LiveSort(f => f.Ready, descending),
            "unacked" or "inflight" => new LiveSort(f => f.Unacked, descending),
            "consumers" => new LiveSort(f => f.Consumers, descending),
            _ => null,
        };
        if (sortField is null && liveSort is null)
        {
            errors["sort"] = [$"sort is one of {string.Join(", ", SortFields)}, with '-' in front for descending order."];
        }

        if (errors.Count > 0)
        {
            return errors;
        }

        query = new QueueQuery(Page ?? 1, PageSize ?? DefaultPageSize, string.IsNullOrWhiteSpace(Search) ? null : Search.Trim(),
            status, sortField ?? QueueSortField.UserId, descending);
        return null;
    }
}

[JsonSerializable(typeof(ConsumerActionResponse))]
[JsonSerializable(typeof(ResetQueueResponse))]
[JsonSerializable(typeof(AllActionResponse))]
[JsonSerializable(typeof(QueueListResponse))]
[JsonSerializable(typeof(QueueDetailResponse))]
[JsonSerializable(typeof(AuditListResponse))]
[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
internal sealed partial class AdminJsonContext : JsonSerializerContext;
