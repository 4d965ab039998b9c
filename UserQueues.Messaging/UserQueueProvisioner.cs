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

    /// <summary>
    /// Publishes a message to its user's queue (after <paramref name="delay"/>, through the delay
    /// levels), declaring the queue first when this process has not declared it, and once more when
    /// the broker returns the message because the queue went away meanwhile (it expired).
    /// </summary>
    public Task PublishAsync(UserMessage message, TimeSpan delay, CancellationToken cancellationToken) =>
        PublishAsync(message, delay, declareFirst: !_declared.ContainsKey(message.UserId), cancellationToken);

    /// <summary>
    /// Publishes a message that was in the broker before (a delayed message falling due, a replayed
    /// dead letter) straight to its user's queue; the queue is declared only if the broker returns
    /// the message because it is not there, so the usual case costs no declare round trip.
    /// </summary>
    public Task RepublishAsync(UserMessage message, CancellationToken cancellationToken) =>
        PublishAsync(message, TimeSpan.Zero, declareFirst: false, cancellationToken);

    private async Task PublishAsync(UserMessage message, TimeSpan delay, bool declareFirst, CancellationToken cancellationToken)
    {
        if (declareFirst)
        {
            await EnsureAsync(message.UserId, ttlMs: null, ordering: null, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await publisher.PublishAsync(message, delay, cancellationToken).ConfigureAwait(false);
        }
        catch (UnroutableMessageException)
        {
            _declared.TryRemove(message.UserId, out _);
            await EnsureAsync(message.UserId, ttlMs: null, ordering: null, cancellationToken).ConfigureAwait(false);
            await publisher.PublishAsync(message, delay, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Declares the user's queue (idempotent), records it, and asks the workers to subscribe.
    /// <paramref name="ttlMs"/> and <paramref name="ordering"/> null keep the queue's recorded
    /// settings, or the defaults for a new one.
    /// </summary>
    /// <exception cref="QueueSettingsConflictException">The queue exists with another TTL.</exception>
    public async Task<QueueRecord> EnsureAsync(string userId, long? ttlMs, QueueOrdering? ordering, CancellationToken cancellationToken)
    {
        var existing = await registry.FindAsync(userId, cancellationToken).ConfigureAwait(false);
        if (existing is not null && ttlMs is { } asked && asked != existing.TtlMs)
        {
            throw new QueueSettingsConflictException(
                $"The queue of user '{userId}' exists with ttlMs={existing.TtlMs}; it cannot be changed to {asked}. " +
                "Send the existing ttlMs (or none) to reuse the queue.");
        }

        if (existing is not null && ordering is { } wanted && wanted != existing.Ordering)
        {
            throw new QueueSettingsConflictException(
                $"The queue of user '{userId}' exists with ordering '{existing.Ordering.ToString().ToLowerInvariant()}'; " +
                "it cannot be changed. Send the existing ordering (or none) to reuse the queue.");
        }

        var ttl = existing?.TtlMs ?? ttlMs ?? options.Value.DefaultQueueTtlMs;
        await topology.DeclareUserQueueAsync(userId, cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        QueueRecord record;
        if (existing is null)
        {
            record = await registry.RegisterAsync(userId, ttl, ordering ?? QueueOrdering.Default, now, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // Declaring again renews the idle lease, as a redeclare does in RabbitMQ; it also keeps
            // a janitor that just deleted the queue from forgetting the queue declared again now.
            await registry.TouchAsync(userId, now, cancellationToken).ConfigureAwait(false);
            record = existing;
        }
        _declared[userId] = ttl;

        if (record.Status == ConsumerStatus.Running)
        {
            await publisher.PublishControlAsync(new ControlCommand(ControlAction.Subscribe, userId, Declared: true), cancellationToken).ConfigureAwait(false);
        }

        return record;
    }
}
