using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace UserQueues.Messaging;

/// <summary>One dead-lettered message, as the admin API shows it.</summary>
public sealed record DeadLetter(
    string MessageId,
    string UserId,
    string Reason,
    int Attempts,
    int? LastStatus,
    DateTimeOffset? DeadLetteredAt,
    string CallbackUrl,
    string Payload);

/// <summary>A page of one user's dead letters; <paramref name="Complete"/> false when the page lies beyond the read bound.</summary>
public sealed record DeadLetterPage(IReadOnlyList<DeadLetter> Items, int Total, bool Complete);

/// <summary>What one pass over the shared inbox did: dead letters moved to their users' queues, and those left there.</summary>
public readonly record struct InboxSortResult(int Moved, int Unsorted);

/// <summary>
/// The dead letters of UserQueues, one queue per user: <c>queue.dead_letter.{userId}</c>, bound to
/// <c>user_dead_letter</c> with <c>dead.{userId}</c>, declared when that user's first message is
/// dead-lettered (the confirmed, mandatory publish comes back; the queue is declared and the
/// publish made again). A list reads only that user's queue with <c>basic.get</c> on a channel of
/// its own and closes the channel, which gives every message back in its place
/// (https://www.rabbitmq.com/docs/confirms#consumer-nacks-requeue); a purge is one
/// <c>queue.purge</c>; a replayed message is published again to its user's queue (confirmed)
/// before its dead letter is acknowledged. So a call costs the user's own dead letters, never
/// those of everyone (measured in bench/README.md, "Dead letters").
/// </summary>
/// <remarks>
/// The shared <c>queue.dead_letter</c> stays as an inbox: the broker dead-letters a rejected
/// delivery there (the user queues' dead-letter routing key is part of their identity), and it
/// holds every dead letter of the versions before per-user queues. <see cref="SortInboxAsync"/>
/// moves each of them into its user's queue (the workers run it at start and then periodically).
/// REVIEW: calls are serialised per user in this process, so a list never hides messages from a
/// purge or from the delete after it; with several API replicas a list can miss (and the delete
/// after a purge could race) messages another replica holds at that moment.
/// </remarks>
public sealed class DeadLetters(
    BrokerChannels channels,
    BrokerTopology topology,
    MessagePublisher publisher,
    UserQueueProvisioner provisioner,
    IOptions<MessagingOptions> options) : IDisposable
{
    /// <summary>Dead letters taken from the inbox before they are moved (in parallel over users, in order per user).</summary>
    private const int SortBatch = 500;

    private const int LockStripes = 64;

    private readonly SemaphoreSlim[] _users = [.. Enumerable.Range(0, LockStripes).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly SemaphoreSlim _sorting = new(1, 1);
    private readonly int _limit = options.Value.DeadLetterScanLimit;
    private readonly int _sortParallelism = options.Value.DeclareChannels;

    /// <summary>
    /// Dead-letters a message that can never be delivered, with why, into its user's queue,
    /// declaring that queue first when it is not there. Completes once the broker confirmed it.
    /// </summary>
    /// <exception cref="BrokerUnavailableException">Not confirmed, or no broker.</exception>
    /// <exception cref="UnroutableMessageException">The queue went away again between declare and publish.</exception>
    public async Task AddAsync(UserMessage message, string reason, int? lastStatus, CancellationToken cancellationToken)
    {
        try
        {
            await publisher.DeadLetterAsync(message, reason, lastStatus, cancellationToken).ConfigureAwait(false);
        }
        catch (UnroutableMessageException)
        {
            // The user's first dead letter (or the first after a purge): the queue is made now.
            await topology.DeclareDeadLetterQueueAsync(message.UserId, cancellationToken).ConfigureAwait(false);
            await publisher.DeadLetterAsync(message, reason, lastStatus, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One page of the user's dead letters, oldest first; the total is the broker's count of the user's queue.</summary>
    public Task<DeadLetterPage> ListAsync(string userId, int page, int pageSize, CancellationToken cancellationToken)
    {
        var end = (long)page * pageSize;
        return ReadAsync(userId, (int)Math.Min(end, _limit), wanted: null, (_, read, total, _) =>
        {
            var items = read.Skip((int)Math.Min(int.MaxValue, (long)(page - 1) * pageSize)).Take(pageSize).Select(l => l.Letter).ToList();
            var complete = end <= _limit || read.Count < _limit;
            return Task.FromResult(new DeadLetterPage(items, total, complete));
        }, cancellationToken);
    }

    /// <summary>Publishes the user's dead letters (all, or those in <paramref name="messageIds"/>) again as first attempts; returns how many.</summary>
    public Task<int> ReplayAsync(string userId, IReadOnlySet<string>? messageIds, CancellationToken cancellationToken) =>
        ReadAsync(userId, _limit, wanted: messageIds, async (channel, read, _, ct) =>
        {
            var replayed = 0;
            foreach (var (tag, letter, message) in read)
            {
                if (message is null || (messageIds is not null && !messageIds.Contains(letter.MessageId)))
                {
                    continue; // unreadable ones cannot be sent again; they stay until purged
                }

                await provisioner.RepublishAsync(message with { Attempt = 1 }, ct).ConfigureAwait(false);
                await channel.BasicAckAsync(tag, multiple: false, ct).ConfigureAwait(false);
                replayed++;
            }

            return replayed;
        }, cancellationToken);

    /// <summary>
    /// Deletes all dead letters of the user (one <c>queue.purge</c>) and then its queue if it is
    /// still empty, so that a user without dead letters costs no broker object; returns how many.
    /// </summary>
    /// <remarks>
    /// REVIEW: a dead letter published in the very instant between the purge and the delete, and
    /// routed to the queue before the delete reached it, is confirmed by the broker and gone with
    /// the queue (RabbitMQ confirms messages of a deleted queue); it would have been purged a
    /// moment earlier. If-empty refuses the delete for any dead letter that got there first.
    /// </remarks>
    public async Task<int> PurgeAsync(string userId, CancellationToken cancellationToken)
    {
        var gate = LockOf(userId);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var purged = await channels.Declares.RunAsync<uint?>(async (channel, ct) =>
            {
                try
                {
                    return await channel.QueuePurgeAsync(Topology.DeadLetterQueueName(userId), ct).ConfigureAwait(false);
                }
                catch (Exception e) when (AmqpReplyCodes.Of(e) == AmqpReplyCodes.NotFound)
                {
                    return null; // no dead letter ever, or purged before; the 404 closed this channel
                }
            }, cancellationToken).ConfigureAwait(false);
            if (purged is null)
            {
                return 0;
            }

            await topology.DeleteDeadLetterQueueIfEmptyAsync(userId, cancellationToken).ConfigureAwait(false);
            return (int)purged.Value;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Moves the dead letters of the shared inbox <c>queue.dead_letter</c> into their users' queues:
    /// each is published as it is (headers kept) to <c>dead.{userId}</c> and acknowledged after the
    /// confirm, in inbox order per user. The owner is the <c>x-user-id</c> header, or else the user
    /// queue the broker dead-lettered it from (<c>x-first-death-queue</c>). A letter with neither
    /// stays in the inbox, in its place. Looks at no more than the inbox held when the pass began.
    /// </summary>
    public async Task<InboxSortResult> SortInboxAsync(CancellationToken cancellationToken)
    {
        await _sorting.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var channel = await channels.Connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            var (moved, unsorted) = (0, 0);
            long? left = null;
            while (left is not 0)
            {
                var batch = new List<(ulong Tag, string? Owner, IReadOnlyBasicProperties Properties, ReadOnlyMemory<byte> Body)>();
                while (batch.Count < SortBatch && left is not 0
                    && await channel.BasicGetAsync(Topology.DeadLetterQueue, autoAck: false, cancellationToken).ConfigureAwait(false) is { } result)
                {
                    left = (left ?? result.MessageCount + 1L) - 1;
                    batch.Add((result.DeliveryTag, OwnerOf(result.BasicProperties.Headers), result.BasicProperties, result.Body.ToArray()));
                }

                if (batch.Count == 0)
                {
                    break;
                }

                var done = new ConcurrentQueue<ulong>();
                try
                {
                    var owners = batch.Where(l => l.Owner is not null).GroupBy(l => l.Owner!, StringComparer.Ordinal);
                    await Parallel.ForEachAsync(owners, new ParallelOptions { MaxDegreeOfParallelism = _sortParallelism, CancellationToken = cancellationToken },
                        async (letters, ct) =>
                        {
                            await topology.DeclareDeadLetterQueueAsync(letters.Key, ct).ConfigureAwait(false);
                            foreach (var letter in letters)
                            {
                                await publisher.RouteDeadLetterAsync(letters.Key, letter.Properties, letter.Body, ct).ConfigureAwait(false);
                                done.Enqueue(letter.Tag);
                            }
                        }).ConfigureAwait(false);
                }
                finally
                {
                    // Whatever was confirmed in its user's queue leaves the inbox, even if another failed.
                    foreach (var tag in done)
                    {
                        await channel.BasicAckAsync(tag, multiple: false, CancellationToken.None).ConfigureAwait(false);
                    }
                }

                moved += done.Count;
                unsorted += batch.Count - done.Count;
                if (batch.Count < SortBatch)
                {
                    break;
                }
            }

            // Closing the channel gives the unsorted letters back, in their place.
            await channel.CloseAsync(cancellationToken).ConfigureAwait(false);
            return new InboxSortResult(moved, unsorted);
        }
        catch (Exception e) when (AmqpReplyCodes.IsUnavailable(e))
        {
            throw new BrokerUnavailableException("The message broker is unreachable; the dead-letter inbox stays as it is.", e);
        }
        finally
        {
            _sorting.Release();
        }
    }

    /// <summary>Whose dead letter an inbox message is: its <c>x-user-id</c>, else the user queue it was dead-lettered from; null when neither.</summary>
    public static string? OwnerOf(IDictionary<string, object?>? headers)
    {
        if (UserMessage.HeaderString(headers, MessageHeaders.UserId) is { } userId && UserIds.Validate(userId) is null)
        {
            return userId;
        }

        return UserMessage.HeaderString(headers, MessageHeaders.FirstDeathQueue) is { } queue
            && Topology.UserIdOfQueue(queue) is { } fromQueue && UserIds.Validate(fromQueue) is null
                ? fromQueue
                : null;
    }

    private SemaphoreSlim LockOf(string userId) =>
        _users[(int)((uint)StringComparer.Ordinal.GetHashCode(userId) % LockStripes)];

    private sealed record Fetched(ulong Tag, DeadLetter Letter, UserMessage? Message);

    /// <summary>
    /// Reads up to <paramref name="count"/> of the user's dead letters from the head of its queue
    /// (fewer once every message of <paramref name="wanted"/> was found),
    /// lets <paramref name="act"/> acknowledge some, then closes the channel: the rest go back in place.
    /// </summary>
    private async Task<T> ReadAsync<T>(
        string userId,
        int count,
        IReadOnlySet<string>? wanted,
        Func<IChannel, IReadOnlyList<Fetched>, int, CancellationToken, Task<T>> act,
        CancellationToken cancellationToken)
    {
        var gate = LockOf(userId);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var channel = await channels.Connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            var read = new List<Fetched>();
            var total = 0;
            var found = 0;
            try
            {
                while (read.Count < count && (wanted is null || found < wanted.Count)
                    && await channel.BasicGetAsync(Topology.DeadLetterQueueName(userId), autoAck: false, cancellationToken).ConfigureAwait(false) is { } result)
                {
                    if (read.Count == 0)
                    {
                        // basic.get-ok says how many are left behind this one: the queue's total.
                        total = (int)Math.Min(int.MaxValue, result.MessageCount + 1L);
                    }

                    var fetched = Fetch(userId, result);
                    read.Add(fetched);
                    if (wanted is not null && fetched.Message is not null && wanted.Contains(fetched.Letter.MessageId))
                    {
                        found++;
                    }
                }
            }
            catch (Exception e) when (AmqpReplyCodes.Of(e) == AmqpReplyCodes.NotFound)
            {
                // The user never had a dead letter (or they were purged): nothing to read or change.
                return await act(channel, [], 0, cancellationToken).ConfigureAwait(false);
            }

            var outcome = await act(channel, read, total, cancellationToken).ConfigureAwait(false);
            // Closing the channel gives back everything not acknowledged, in its place.
            await channel.CloseAsync(cancellationToken).ConfigureAwait(false);
            return outcome;
        }
        catch (Exception e) when (AmqpReplyCodes.IsUnavailable(e))
        {
            throw new BrokerUnavailableException("The message broker is unreachable; no dead letter was changed.", e);
        }
        finally
        {
            gate.Release();
        }
    }

    public void Dispose()
    {
        foreach (var gate in _users)
        {
            gate.Dispose();
        }

        _sorting.Dispose();
    }

    private static Fetched Fetch(string userId, BasicGetResult result)
    {
        var headers = result.BasicProperties.Headers;
        var deadLetteredAt = UserMessage.HeaderLong(headers, MessageHeaders.DeadLetteredAt) is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : (DateTimeOffset?)null;
        var reason = UserMessage.HeaderString(headers, MessageHeaders.DeadLetterReason);
        var lastStatus = (int?)UserMessage.HeaderLong(headers, MessageHeaders.LastStatus);
        if (UserMessage.TryRead(result.BasicProperties, result.Body, out var error) is { } message)
        {
            return new Fetched(result.DeliveryTag, new DeadLetter(
                message.MessageId, message.UserId, reason ?? "rejected by the worker (no reason recorded)", message.Attempt,
                lastStatus, deadLetteredAt, message.CallbackUrl, Encoding.UTF8.GetString(message.Payload.Span)), message);
        }

        // Not a UserQueues message (rejected by the worker as unreadable): shown, never replayed.
        return new Fetched(result.DeliveryTag, new DeadLetter(
            result.BasicProperties.MessageId ?? "", userId, reason ?? "unreadable: " + error, 0,
            lastStatus, deadLetteredAt, UserMessage.HeaderString(headers, MessageHeaders.CallbackUrl) ?? "",
            Encoding.UTF8.GetString(result.Body.Span)), null);
    }
}
