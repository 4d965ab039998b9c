namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The environment variables of the original (Node.js) design and the configuration keys they
/// feed. Existing deployments set these; they keep working unchanged.
/// </summary>
public static class SeedEnvironment
{
    public const string RabbitUrl = "RABBIT_URL";
    public const string Port = "PORT";
    public const string AdminApiKey = "ADMIN_API_KEY";
    public const string Prefetch = "PREFETCH";
    public const string ShardCount = "SHARD_COUNT";
    public const string DefaultQueueTtlMs = "DEFAULT_QUEUE_TTL_MS";

    /// <summary>Every seed variable, in the order the seed's <c>.env.example</c> lists them.</summary>
    public static readonly IReadOnlyList<string> Names =
        [RabbitUrl, Port, AdminApiKey, Prefetch, ShardCount, DefaultQueueTtlMs];

    /// <summary>Seed variable → configuration key. <c>PORT</c> is handled by the API's Kestrel setup.</summary>
    public static readonly IReadOnlyList<(string SeedName, string Key)> Mappings =
    [
        (RabbitUrl, "ConnectionStrings:messaging"),
        (AdminApiKey, "Admin:ApiKey"),
        (Prefetch, "Worker:Prefetch"),
        (ShardCount, "Messaging:ShardCount"),
        (DefaultQueueTtlMs, "Messaging:DefaultQueueTtlMs"),
    ];
}
