using RabbitMQ.Client;

namespace UserQueues.Messaging;

/// <summary>Declares the exchanges and queues of <see cref="Topology"/>. Every declare is idempotent.</summary>
public sealed class BrokerTopology(BrokerChannels channels)
{
    /// <summary>The exchanges and queues shared by all users; run by every process at start.</summary>
    public Task DeclareSharedAsync(CancellationToken cancellationToken) =>
        channels.Declares.RunAsync(async (channel, ct) =>
        {
            await channel.ExchangeDeclareAsync(Topology.UserExchange, ExchangeType.Direct, durable: true, autoDelete: false, cancellationToken: ct).ConfigureAwait(false);
            await channel.ExchangeDeclareAsync(Topology.ControlExchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct).ConfigureAwait(false);
            await channel.ExchangeDeclareAsync(Topology.DeadLetterExchange, ExchangeType.Direct, durable: true, autoDelete: false, cancellationToken: ct).ConfigureAwait(false);
            await channel.QueueDeclareAsync(Topology.DeadLetterQueue, durable: true, exclusive: false, autoDelete: false, cancellationToken: ct).ConfigureAwait(false);
            await channel.QueueBindAsync(Topology.DeadLetterQueue, Topology.DeadLetterExchange, Topology.DeadLetterRoutingKey, cancellationToken: ct).ConfigureAwait(false);

            await channel.ExchangeDeclareAsync(Topology.DelayReadyExchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct).ConfigureAwait(false);
            await channel.QueueDeclareAsync(Topology.DelayReadyQueue, durable: true, exclusive: false, autoDelete: false,
                arguments: Topology.DelayReadyArguments(), cancellationToken: ct).ConfigureAwait(false);
            await channel.QueueBindAsync(Topology.DelayReadyQueue, Topology.DelayReadyExchange, "", cancellationToken: ct).ConfigureAwait(false);
            // Bottom up, so that every level's dead-letter target exists before messages can reach it.
            for (var level = 0; level < Topology.DelayLevels; level++)
            {
                var name = Topology.DelayLevelName(level);
                await channel.ExchangeDeclareAsync(name, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: ct).ConfigureAwait(false);
                await channel.QueueDeclareAsync(name, durable: true, exclusive: false, autoDelete: false,
                    arguments: Topology.DelayLevelArguments(level), cancellationToken: ct).ConfigureAwait(false);
                await channel.QueueBindAsync(name, name, Topology.DelayLevelPattern(level, '1'), cancellationToken: ct).ConfigureAwait(false);
                await channel.ExchangeBindAsync(Topology.BelowDelayLevel(level), name, Topology.DelayLevelPattern(level, '0'), cancellationToken: ct).ConfigureAwait(false);
            }
        }, cancellationToken);

    /// <summary>Declares <c>queue.user.{userId}</c> with its arguments and binds it to <c>user_exchange</c>.</summary>
    /// <exception cref="QueueSettingsConflictException">The queue exists with other arguments and cannot be used.</exception>
    public async Task DeclareUserQueueAsync(string userId, CancellationToken cancellationToken)
    {
        var queue = Topology.QueueName(userId);
        try
        {
            await channels.Declares.RunAsync(async (channel, ct) =>
            {
                await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                    arguments: Topology.UserQueueArguments(), cancellationToken: ct).ConfigureAwait(false);
                await channel.QueueBindAsync(queue, Topology.UserExchange, Topology.RoutingKey(userId), cancellationToken: ct).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (AmqpReplyCodes.Of(e) == AmqpReplyCodes.PreconditionFailed)
        {
            throw new QueueSettingsConflictException(
                $"Queue '{queue}' already exists on the broker with other arguments than UserQueues declares " +
                $"(durable, {Topology.QueueArguments.SingleActiveConsumer}, dead-lettering to {Topology.DeadLetterExchange}); " +
                "it was not created by this version. Move its messages and delete it on the broker, then send again.", e);
        }
    }

    /// <summary>
    /// Declares <c>queue.dead_letter.{userId}</c> (durable) and binds it to <c>user_dead_letter</c>
    /// with <c>dead.{userId}</c>; idempotent. Run when a dead-letter publish came back unroutable.
    /// </summary>
    public Task DeclareDeadLetterQueueAsync(string userId, CancellationToken cancellationToken) =>
        channels.Declares.RunAsync(async (channel, ct) =>
        {
            var queue = Topology.DeadLetterQueueName(userId);
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                arguments: Topology.DeadLetterQueueArguments(), cancellationToken: ct).ConfigureAwait(false);
            await channel.QueueBindAsync(queue, Topology.DeadLetterExchange, Topology.DeadLetterRoutingKeyOf(userId), cancellationToken: ct).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>
    /// Deletes a user's dead-letter queue if the broker finds it empty and unconsumed. Only safe
    /// while no <c>basic.get</c> of this process holds its messages: the broker's if-empty counts
    /// ready messages only, not those fetched and not yet acknowledged (<see cref="DeadLetters"/>
    /// calls it under its per-user lock). False when it is not empty; true also when it was gone.
    /// </summary>
    public Task<bool> DeleteDeadLetterQueueIfEmptyAsync(string userId, CancellationToken cancellationToken) =>
        DeleteIfEmptyAndUnusedAsync(Topology.DeadLetterQueueName(userId), cancellationToken);

    /// <summary>
    /// Deletes a user queue only if the broker finds it empty and without consumers, atomically
    /// (https://www.rabbitmq.com/amqp-0-9-1-reference#queue.delete). False when it is not (any
    /// more) empty or unused; true also when it was already gone.
    /// </summary>
    public Task<bool> DeleteUserQueueIfIdleAsync(string userId, CancellationToken cancellationToken) =>
        DeleteIfEmptyAndUnusedAsync(Topology.QueueName(userId), cancellationToken);

    /// <summary>queue.delete if-empty if-unused: false when messages or a consumer arrived (the queue stays), true also when it was gone.</summary>
    private Task<bool> DeleteIfEmptyAndUnusedAsync(string queue, CancellationToken cancellationToken) =>
        channels.Declares.RunAsync(async (channel, ct) =>
        {
            try
            {
                await channel.QueueDeleteAsync(queue, ifUnused: true, ifEmpty: true, cancellationToken: ct).ConfigureAwait(false);
                return true;
            }
            catch (Exception e) when (AmqpReplyCodes.Of(e) == AmqpReplyCodes.PreconditionFailed)
            {
                return false;
            }
            catch (Exception e) when (AmqpReplyCodes.Of(e) == AmqpReplyCodes.NotFound)
            {
                return true;
            }
        }, cancellationToken);

    /// <summary>Ready messages and consumers of a user queue, or null when the queue does not exist.</summary>
    public Task<QueueDeclareOk?> InspectUserQueueAsync(string userId, CancellationToken cancellationToken) =>
        channels.Declares.RunAsync<QueueDeclareOk?>(async (channel, ct) =>
        {
            try
            {
                return await channel.QueueDeclarePassiveAsync(Topology.QueueName(userId), ct).ConfigureAwait(false);
            }
            catch (Exception e) when (AmqpReplyCodes.Of(e) == AmqpReplyCodes.NotFound)
            {
                // The 404 closed this channel; the pool replaces it.
                return null;
            }
        }, cancellationToken);
}
