using System.Collections.Concurrent;
using RabbitMQ.Client;

namespace UserQueues.Messaging;

/// <summary>
/// A bounded set of channels, each used by one operation at a time. RabbitMQ serialises RPCs
/// (declares) per channel and a channel-level error (e.g. PRECONDITION_FAILED) closes the channel,
/// so operations get a channel of their own and a closed one is replaced, never handed out again.
/// Confirmed publishes share their channels instead (<see cref="PublishChannels"/>).
/// </summary>
public sealed class ChannelPool : IAsyncDisposable
{
    private readonly IConnection _connection;
    private readonly SemaphoreSlim _slots;
    private readonly ConcurrentBag<IChannel> _idle = [];

    public ChannelPool(IConnection connection, int size)
    {
        _connection = connection;
        _slots = new SemaphoreSlim(size, size);
    }

    public async Task<T> RunAsync<T>(Func<IChannel, CancellationToken, Task<T>> operation, CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        IChannel? channel = null;
        try
        {
            channel = await TakeOpenChannelAsync(cancellationToken).ConfigureAwait(false);
            return await operation(channel, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (AmqpReplyCodes.IsUnavailable(e))
        {
            throw BrokerUnavailableException.Unreachable(e);
        }
        finally
        {
            if (channel is { IsOpen: true })
            {
                _idle.Add(channel);
            }
            else if (channel is not null)
            {
                await channel.CloseQuietlyAsync().ConfigureAwait(false);
            }

            _slots.Release();
        }
    }

    public Task RunAsync(Func<IChannel, CancellationToken, Task> operation, CancellationToken cancellationToken) =>
        RunAsync(async (channel, ct) =>
        {
            await operation(channel, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    private async Task<IChannel> TakeOpenChannelAsync(CancellationToken cancellationToken)
    {
        while (_idle.TryTake(out var idle))
        {
            if (idle.IsOpen)
            {
                return idle;
            }

            await idle.CloseQuietlyAsync().ConfigureAwait(false);
        }

        return await _connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        while (_idle.TryTake(out var channel))
        {
            await channel.CloseQuietlyAsync().ConfigureAwait(false);
        }

        _slots.Dispose();
    }
}
