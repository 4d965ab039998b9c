using System.ComponentModel.DataAnnotations;

namespace UserQueues.Worker;

/// <summary>The consumer pool's settings (section <c>Worker</c>).</summary>
public sealed class WorkerOptions
{
    public const string SectionName = "Worker";

    /// <summary>Unacknowledged messages the broker sends ahead per user queue (seed: <c>PREFETCH</c>).</summary>
    [Range(1, 1000)]
    public int Prefetch { get; set; } = 5;

    /// <summary>Channels the consumers are spread over (consumers of one channel share its dispatch).</summary>
    [Range(1, 256)]
    public int Channels { get; set; } = 8;

    /// <summary>Callbacks in flight at once in this process, over all users (one per user at most).</summary>
    [Range(1, 10_000)]
    public int MaxConcurrentDeliveries { get; set; } = 64;

    /// <summary>How often the consumers are compared with the registry and repaired.</summary>
    [Range(1, 3600)]
    public int ReconcileIntervalSeconds { get; set; } = 10;

    /// <summary>How often the janitor looks for queues idle past their TTL.</summary>
    [Range(1, 3600)]
    public int ExpiryCheckIntervalSeconds { get; set; } = 30;

    /// <summary>
    /// How often the queue gauges (ready messages, queues by status) are refreshed from the broker
    /// (passive declares of the queues this worker consumes) and the registry; never per scrape.
    /// </summary>
    [Range(1, 3600)]
    public int MetricsSnapshotIntervalSeconds { get; set; } = 15;

    /// <summary>
    /// How often the shared dead-letter inbox (<c>queue.dead_letter</c>) is sorted into the users'
    /// dead-letter queues; the first pass runs at start. A delivery the broker dead-lettered after
    /// a rejection shows in its user's dead letters at most this much later.
    /// </summary>
    [Range(1, 3600)]
    public int DeadLetterSortIntervalSeconds { get; set; } = 5;

    /// <summary>How long a stopping worker lets in-flight deliveries finish.</summary>
    [Range(1, 300)]
    public int ShutdownTimeoutSeconds { get; set; } = 20;
}
