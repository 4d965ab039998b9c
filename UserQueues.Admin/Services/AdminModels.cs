namespace UserQueues.Admin.Services;

/// <summary>One row of <c>GET /admin/queues</c> (see the API's README section for each figure's source).</summary>
public sealed record QueueRow(
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
    public bool IsStopped => Status == "stopped";
}

public sealed record QueueTotals(
    int Queues, int Running, int Stopped,
    long Published, long Delivered, long Retried, long DeadLettered,
    long Ready, long Unacked, long Consumers, double PublishRate, double DeliverRate);

public sealed record SnapshotInfo(DateTimeOffset? TakenAt, long? AgeMs, long DurationMs, int Queues, string? Error);

public sealed record QueueListPage(
    bool Success, int Page, int PageSize, int Total, QueueTotals Totals, SnapshotInfo Snapshot, string LiveFigures,
    IReadOnlyList<QueueRow> Queues);

public sealed record QueueDetail(bool Success, QueueRow Queue, SnapshotInfo Snapshot);

/// <summary>One dead letter of <c>GET /admin/dead-letters</c>.</summary>
public sealed record DeadLetterRow(string MessageId, string Reason, int Attempts, int? LastStatus, DateTimeOffset? DeadLetteredAt, string CallbackUrl, string Payload);

public sealed record DeadLetterList(bool Success, int Total, bool Complete, IReadOnlyList<DeadLetterRow> Items);

public sealed record AuditRow(long Id, DateTimeOffset At, string Actor, string Action, string? Target, string? Detail);

public sealed record AuditPage(bool Success, int Page, int PageSize, int Total, IReadOnlyList<AuditRow> Entries);

/// <summary>What the queues page asks for: 1-based page, API sort name (<c>-</c> for descending).</summary>
public sealed record QueueListRequest(int Page, int PageSize, string? Search, string? Status, string? Sort);

/// <summary>Why an API call failed, in words for a toast.</summary>
public enum ApiFailure
{
    /// <summary>The API refused the key (401): the session must sign in again.</summary>
    Unauthorized,

    /// <summary>The API could not be reached or timed out.</summary>
    Unavailable,

    /// <summary>The API answered with a problem (4xx/5xx): its detail says why.</summary>
    Refused,
}

public sealed class AdminApiException(ApiFailure failure, string message, Exception? inner = null) : Exception(message, inner)
{
    public ApiFailure Failure { get; } = failure;
}
