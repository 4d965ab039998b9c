using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace UserQueues.Messaging;

/// <summary>The process's channel pools on its one connection: confirmed publishes and declares apart.</summary>
public sealed class BrokerChannels(IConnection connection, IOptions<MessagingOptions> options) : IAsyncDisposable
{
    public IConnection Connection { get; } = connection;

    /// <summary>Channels with publisher confirms and confirm tracking, shared: a publish completes when the broker has the message.</summary>
    public PublishChannels Publishes { get; } = new(connection, options.Value.PublishChannels);

    /// <summary>Channels for declares and inspection; a channel closed by an error is replaced.</summary>
    public ChannelPool Declares { get; } = new(connection, options.Value.DeclareChannels);

    public async ValueTask DisposeAsync()
    {
        await Publishes.DisposeAsync().ConfigureAwait(false);
        await Declares.DisposeAsync().ConfigureAwait(false);
    }
}
