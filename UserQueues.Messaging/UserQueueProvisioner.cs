using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using UserQueues.Messaging.Registry;

namespace UserQueues.Messaging;

/// <summary>
/// Makes sure a user's queue exists on the broker and in the registry, and tells the workers to
/// consume it. Remembers which queues this process declared so that a send does not pay a declare
/// round trip each time; a queue that expired meanwhile is noticed by the mandatory publish.
/// </summary>
public sealed class UserQueueProvisioner(
    BrokerTopology topology,
    IQueueRegistry registry,
    MessagePublisher publisher,
    IOptions<MessagingOptions> options,
    TimeProvider time)
{
    private readonly ConcurrentDictionary<string, long> _declared = new(StringComparer.Ordinal);

    /// <summary>True when this process declared the user's queue and has not seen it vanish since.</summary>
    public bool IsKnown(string userId) => _declared.ContainsKey(userId);

    /// <summary>Forgets a queue the broker no longer has (it expired or was deleted).</summary>
    public void Forget(string userId) => _declared.TryRemove(userId, out _);

    /// <summary>
    /// Declares the user's queue (idempotent), records it, and asks the workers to subscribe.
    /// <paramref name="ttlMs"/> null keeps the queue's recorded TTL, or the default for a new one.
    /// </summary>
    /// <exception cref="QueueSettingsConflictException">The queue exists with another TTL.</exception>
    public async Task<QueueRecord> EnsureAsync(string userId, long? ttlMs, CancellationToken cancellationToken)
    {
        var existing = await registry.FindAsync(userId, cancellationToken).ConfigureAwait(false);
        if (existing is not null && ttlMs is { } asked && asked != existing.TtlMs)
        {
            throw new QueueSettingsConflictException(
                $"The queue of user '{userId}' exists with ttlMs={existing.TtlMs}; it cannot be changed to {asked}. " +
                "Send the existing ttlMs (or none) to reuse the queue.");
        }

        var ttl = existing?.TtlMs ?? ttlMs ?? options.Value.DefaultQueueTtlMs;
        await topology.DeclareUserQueueAsync(userId, ttl, cancellationToken).ConfigureAwait(false);
        var record = existing ?? await registry.RegisterAsync(userId, ttl, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        _declared[userId] = ttl;

        if (record.Status == ConsumerStatus.Running)
        {
            await publisher.PublishControlAsync(new ControlCommand(ControlAction.Subscribe, userId), cancellationToken).ConfigureAwait(false);
        }

        return record;
    }
}
