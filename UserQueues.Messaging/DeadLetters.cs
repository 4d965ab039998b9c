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

/// <summary>A page of one user's dead letters; <paramref name="Complete"/> false when the scan stopped at its bound.</summary>
public sealed record DeadLetterPage(IReadOnlyList<DeadLetter> Items, int Total, bool Complete);

/// <summary>
/// Browses, replays and purges the dead letters of <c>queue.dead_letter</c>. Each call takes the
/// queue's messages with <c>basic.get</c> on a channel of its own, keeps the ones it wants and
/// closes the channel, which gives every other message back to the queue in its place
/// (https://www.rabbitmq.com/docs/confirms#consumer-nacks-requeue). A replayed message is published
/// again to its user's queue (confirmed) before its dead letter is acknowledged.
/// </summary>
/// <remarks>
/// REVIEW: one shared dead-letter queue keeps broker objects flat at 10,000 users, but a call
/// costs one get per dead letter of every user, up to <see cref="MessagingOptions.DeadLetterScanLimit"/>.
/// Calls are serialised in this process so that two scans never hide each other's messages; with
/// several API replicas a scan can miss messages another replica holds at that moment.
/// </remarks>
public sealed class DeadLetters(BrokerChannels channels, UserQueueProvisioner provisioner, IOptions<MessagingOptions> options) : IDisposable
{
    private readonly SemaphoreSlim _scan = new(1, 1);
    private readonly int _limit = options.Value.DeadLetterScanLimit;

    public Task<DeadLetterPage> ListAsync(string userId, int page, int pageSize, CancellationToken cancellationToken) =>
        ScanAsync(userId, (_, mine, complete, _) => Task.FromResult(new DeadLetterPage(
            [.. mine.Skip((page - 1) * pageSize).Take(pageSize).Select(m => m.Letter)], mine.Count, complete)),
            cancellationToken);

    /// <summary>Publishes the user's dead letters (all, or those in <paramref name="messageIds"/>) again as first attempts; returns how many.</summary>
    public Task<int> ReplayAsync(string userId, IReadOnlySet<string>? messageIds, CancellationToken cancellationToken) =>
        ScanAsync(userId, async (channel, mine, _, ct) =>
        {
            var replayed = 0;
            foreach (var (tag, letter, message) in mine.Where(m => messageIds is null || messageIds.Contains(m.Letter.MessageId)))
            {
                await provisioner.RepublishAsync(message with { Attempt = 1 }, ct).ConfigureAwait(false);
                await channel.BasicAckAsync(tag, multiple: false, ct).ConfigureAwait(false);
                replayed++;
            }

            return replayed;
        }, cancellationToken);

    /// <summary>Deletes all dead letters of the user; returns how many.</summary>
    public Task<int> PurgeAsync(string userId, CancellationToken cancellationToken) =>
        ScanAsync(userId, async (channel, mine, _, ct) =>
        {
            foreach (var (tag, _, _) in mine)
            {
                await channel.BasicAckAsync(tag, multiple: false, ct).ConfigureAwait(false);
            }

            return mine.Count;
        }, cancellationToken);

    private async Task<T> ScanAsync<T>(
        string userId,
        Func<IChannel, IReadOnlyList<(ulong Tag, DeadLetter Letter, UserMessage Message)>, bool, CancellationToken, Task<T>> act,
        CancellationToken cancellationToken)
    {
        await _scan.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var channel = await channels.Connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            var mine = new List<(ulong, DeadLetter, UserMessage)>();
            var seen = 0;
            while (seen < _limit && await channel.BasicGetAsync(Topology.DeadLetterQueue, autoAck: false, cancellationToken).ConfigureAwait(false) is { } result)
            {
                seen++;
                var headers = result.BasicProperties.Headers;
                if (UserMessage.HeaderString(headers, MessageHeaders.UserId) == userId
                    && UserMessage.TryRead(result.BasicProperties, result.Body, out _) is { } message)
                {
                    mine.Add((result.DeliveryTag, ToLetter(message, headers), message));
                }
            }

            var outcome = await act(channel, mine, seen < _limit, cancellationToken).ConfigureAwait(false);
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
            _scan.Release();
        }
    }

    public void Dispose() => _scan.Dispose();

    private static DeadLetter ToLetter(UserMessage message, IDictionary<string, object?>? headers)
    {
        var deadLetteredAt = UserMessage.HeaderLong(headers, MessageHeaders.DeadLetteredAt);
        return new DeadLetter(
            message.MessageId,
            message.UserId,
            UserMessage.HeaderString(headers, MessageHeaders.DeadLetterReason) ?? "rejected by the worker (no reason recorded)",
            message.Attempt,
            (int?)UserMessage.HeaderLong(headers, MessageHeaders.LastStatus),
            deadLetteredAt is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null,
            message.CallbackUrl,
            Encoding.UTF8.GetString(message.Payload.Span));
    }
}
