using RabbitMQ.Client;

namespace UserQueues.Messaging;

/// <summary>Live state of one user queue as a passive declare reports it (queue.declare-ok).</summary>
public readonly record struct LiveQueueFigures(uint Ready, uint Consumers);

/// <summary>
/// The broker operations of the admin API: purges and passive declares, one queue or thousands.
/// Bulk operations run over a channel pool of their own (<see cref="BulkChannels"/>), so a
/// reset-all of 10,000 queues neither waits behind nor holds up the producers' declares.
/// </summary>
public sealed class QueueAdministration(BrokerChannels channels) : IAsyncDisposable
{
    /// <summary>Channels used at once by bulk operations: a purge is one round trip, RabbitMQ serialises them per channel.</summary>
    public const int BulkChannels = 16;

    private readonly ChannelPool _bulk = new(channels.Connection, BulkChannels);

    /// <summary>Removes the ready messages of a user's queue; null when the queue is not on the broker.</summary>
    public Task<uint?> PurgeAsync(string userId, CancellationToken cancellationToken) =>
        PurgeOnAsync(channels.Declares, userId, cancellationToken);

    /// <summary>Purges many queues over several channels at once; returns the messages removed and the queues not found.</summary>
    public async Task<(long Purged, int Missing)> PurgeManyAsync(IReadOnlyCollection<string> userIds, CancellationToken cancellationToken)
    {
        long purged = 0;
        var missing = 0;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = BulkChannels, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(userIds, parallel, async (userId, ct) =>
        {
            if (await PurgeOnAsync(_bulk, userId, ct).ConfigureAwait(false) is { } count)
            {
                Interlocked.Add(ref purged, count);
            }
            else
            {
                Interlocked.Increment(ref missing);
            }
        }).ConfigureAwait(false);
        return (purged, missing);
    }

    /// <summary>
    /// Ready messages and consumers of each queue, by passive declares spread over the bulk
    /// channels: cheap (one round trip each, no statistics involved) and current to the moment.
    /// A queue not on the broker has no entry.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, LiveQueueFigures>> InspectManyAsync(IReadOnlyCollection<string> userIds, CancellationToken cancellationToken)
    {
        var figures = new System.Collections.Concurrent.ConcurrentDictionary<string, LiveQueueFigures>(StringComparer.Ordinal);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = BulkChannels, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(userIds, parallel, async (userId, ct) =>
        {
            var ok = await _bulk.RunAsync<QueueDeclareOk?>(async (channel, token) =>
            {
                try
                {
                    return await channel.QueueDeclarePassiveAsync(Topology.QueueName(userId), token).ConfigureAwait(false);
                }
                catch (Exception e) when (AmqpReplyCodes.Of(e) == AmqpReplyCodes.NotFound)
                {
                    return null; // the 404 closed this channel; the pool replaces it
                }
            }, ct).ConfigureAwait(false);
            if (ok is not null)
            {
                figures[userId] = new LiveQueueFigures(ok.MessageCount, ok.ConsumerCount);
            }
        }).ConfigureAwait(false);
        return figures;
    }

    private static Task<uint?> PurgeOnAsync(ChannelPool pool, string userId, CancellationToken cancellationToken) =>
        pool.RunAsync<uint?>(async (channel, ct) =>
        {
            try
            {
                return await channel.QueuePurgeAsync(Topology.QueueName(userId), ct).ConfigureAwait(false);
            }
            catch (Exception e) when (AmqpReplyCodes.Of(e) == AmqpReplyCodes.NotFound)
            {
                return null;
            }
        }, cancellationToken);

    public ValueTask DisposeAsync() => _bulk.DisposeAsync();
}
