using System.ComponentModel.DataAnnotations;

namespace UserQueues.Messaging;

/// <summary>Broker-side settings shared by the API and the worker (section <c>Messaging</c>).</summary>
public sealed class MessagingOptions
{
    public const string SectionName = "Messaging";

    public const long MinQueueTtlMs = 1_000;

    /// <summary>30 days: RabbitMQ accepts more, but an idle queue kept longer is a leak.</summary>
    public const long MaxQueueTtlMs = 30L * 24 * 60 * 60 * 1000;

    /// <summary>Idle time after which an unused queue is deleted (seed: <c>DEFAULT_QUEUE_TTL_MS</c>).</summary>
    [Range(MinQueueTtlMs, MaxQueueTtlMs)]
    public long DefaultQueueTtlMs { get; set; } = 600_000;

    /// <summary>Largest accepted payload, in bytes of JSON (send-message answers 413 above it).</summary>
    [Range(1, 64 * 1024 * 1024)]
    public int MaxPayloadBytes { get; set; } = 256 * 1024;

    /// <summary>How long a publish may wait for the broker's confirm before the request fails.</summary>
    [Range(1, 300)]
    public int PublishTimeoutSeconds { get; set; } = 10;

    /// <summary>Channels for confirmed publishes, each shared by many publishes in flight (<see cref="PublishChannels"/>).</summary>
    [Range(1, 256)]
    public int PublishChannels { get; set; } = 16;

    /// <summary>Channels declaring queues at once (a declare is a round trip; RabbitMQ serialises them per channel).</summary>
    [Range(1, 64)]
    public int DeclareChannels { get; set; } = 8;

    /// <summary>Longest accepted <c>delaySeconds</c> (7 days); the delay levels go up to <see cref="Topology.MaxLevelDelaySeconds"/>.</summary>
    [Range(1, Topology.MaxLevelDelaySeconds)]
    public long MaxDelaySeconds { get; set; } = 7 * 24 * 60 * 60;

    /// <summary>Most dead letters of one user that one dead-letter call reads (a page beyond them answers <c>complete: false</c>).</summary>
    [Range(1, 1_000_000)]
    public int DeadLetterScanLimit { get; set; } = 10_000;

    /// <summary>Seed <c>SHARD_COUNT</c>: shards of the sharded topology (not used by the per-user topology).</summary>
    [Range(1, 1024)]
    public int ShardCount { get; set; } = 10;
}

/// <summary>Where the queue registry lives (section <c>Registry</c>).</summary>
public sealed class RegistryOptions
{
    public const string SectionName = "Registry";

    /// <summary>
    /// The SQLite database file. Every process of one installation must point at the same file
    /// (the AppHost sets it for all of them); the default is shared by all processes of one OS user.
    /// </summary>
    [Required]
    public string Path { get; set; } = System.IO.Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create),
        "UserQueues", "registry.db");

    /// <summary>How often counters gathered in memory are written to the registry.</summary>
    [Range(50, 60_000)]
    public int CounterFlushIntervalMs { get; set; } = 500;
}
