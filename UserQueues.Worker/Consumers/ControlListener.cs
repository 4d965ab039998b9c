using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;

namespace UserQueues.Worker.Consumers;

/// <summary>
/// This worker instance's exclusive queue on the <c>user_control</c> fanout exchange: every
/// instance hears every command, within a round trip of its publication.
/// </summary>
internal sealed partial class ControlListener(IConnection connection, ConsumerPool pool, IQueueRegistry registry, ILogger<ControlListener> logger) : IAsyncDisposable
{
    private IChannel? _channel;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        // Server-named, exclusive, auto-delete: gone with this instance; recovered (renamed) with the connection.
        var queue = await _channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        await _channel.QueueBindAsync(queue.QueueName, Topology.ControlExchange, "", cancellationToken: cancellationToken).ConfigureAwait(false);
        await _channel.BasicConsumeAsync(queue.QueueName, autoAck: true, new Consumer(_channel, this), cancellationToken).ConfigureAwait(false);
    }

    private async Task HandleAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (ControlCommand.TryParse(body.Span) is not { } command)
        {
            LogIgnored(logger);
            return;
        }

        pool.NoteCommand(command.UserId);
        try
        {
            switch (command.Action)
            {
                case ControlAction.Subscribe:
                    // The registry, not the command, says how the queue is consumed (and whether at all).
                    if (await registry.FindAsync(command.UserId!, cancellationToken).ConfigureAwait(false) is { Status: ConsumerStatus.Running } queue)
                    {
                        await pool.SubscribeAsync(queue.UserId, queue.Ordering, command.Declared, cancellationToken).ConfigureAwait(false);
                    }

                    break;
                case ControlAction.Unsubscribe:
                    await pool.StopConsumingAsync(command.UserId!, cancellationToken).ConfigureAwait(false);
                    break;
                case ControlAction.Park:
                    await pool.ParkAsync(command.UserId!, QueueJanitor.ParkDuration, cancellationToken).ConfigureAwait(false);
                    break;
                case ControlAction.UnsubscribeAll:
                    await pool.UnsubscribeAllAsync(cancellationToken).ConfigureAwait(false);
                    break;
                case ControlAction.ReconcileAll:
                    // The registry already says running for every queue: reconciliation subscribes them.
                    pool.RequestReconcile();
                    break;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Reconciliation repairs what a failed command left undone.
            LogCommandFailed(logger, command.Action, command.UserId, e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Called by the host at stop and again by the container at dispose.
        if (Interlocked.Exchange(ref _channel, null) is { } channel && await channel.CloseQuietlyAsync().ConfigureAwait(false) is { } problem)
        {
            LogCloseFailed(logger, problem);
        }
    }

    private sealed class Consumer(IChannel channel, ControlListener listener) : AsyncDefaultBasicConsumer(channel)
    {
        public override Task HandleBasicDeliverAsync(string consumerTag, ulong deliveryTag, bool redelivered, string exchange,
            string routingKey, IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default) =>
            listener.HandleAsync(body, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored an unreadable control command")]
    private static partial void LogIgnored(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Control command {Action} for {UserId} failed: {Reason}")]
    private static partial void LogCommandFailed(ILogger logger, ControlAction action, string? userId, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Closing the control channel failed: {Reason}")]
    private static partial void LogCloseFailed(ILogger logger, string reason);
}
