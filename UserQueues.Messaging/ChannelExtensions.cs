using RabbitMQ.Client;

namespace UserQueues.Messaging;

/// <summary>Closing channels on the way out.</summary>
public static class ChannelExtensions
{
    /// <summary>
    /// Closes and disposes a channel, best effort: at shutdown, or for a channel the broker already
    /// closed, there is nothing more to do than let it go. Returns why closing failed, if it did.
    /// </summary>
    public static async Task<string?> CloseQuietlyAsync(this IChannel channel)
    {
        string? problem = null;
        if (channel.IsOpen)
        {
            try
            {
                await channel.CloseAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                problem = e.Message;
            }
        }

        try
        {
            await channel.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            problem ??= e.Message;
        }

        return problem;
    }
}
