using System.Diagnostics;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using UserQueues.Messaging.Telemetry;

namespace UserQueues.Messaging;

/// <summary>
/// Every publish of UserQueues. Each one is persistent where it carries a message, mandatory
/// (a message no queue takes is an error, never a silent drop) and completes only once the broker
/// confirmed it (https://www.rabbitmq.com/docs/confirms#publisher-confirms).
/// </summary>
public sealed class MessagePublisher(BrokerChannels channels, IOptions<MessagingOptions> options, TimeProvider time)
{
    private readonly TimeSpan _timeout = TimeSpan.FromSeconds(options.Value.PublishTimeoutSeconds);

    /// <summary>Publishes a message to its user's queue.</summary>
    /// <exception cref="UnroutableMessageException">The user's queue does not exist.</exception>
    /// <exception cref="BrokerUnavailableException">Not confirmed in time, nacked, or no broker.</exception>
    public Task PublishAsync(UserMessage message, CancellationToken cancellationToken) =>
        PublishConfirmedAsync(Topology.UserExchange, Topology.RoutingKey(message.UserId), message.ToProperties(), message.Payload, message.TraceContext, cancellationToken);

    /// <summary>
    /// Publishes a message that reaches its user's queue after <paramref name="delay"/> (rounded up
    /// to whole seconds), through the delay levels; no delay publishes directly.
    /// </summary>
    /// <exception cref="BrokerUnavailableException">Not confirmed in time, nacked, or no broker.</exception>
    public Task PublishAsync(UserMessage message, TimeSpan delay, CancellationToken cancellationToken)
    {
        var seconds = (long)Math.Ceiling(delay.TotalSeconds);
        return seconds <= 0
            ? PublishAsync(message, cancellationToken)
            : PublishConfirmedAsync(Topology.DelayLevelName(Topology.DelayLevels - 1),
                Topology.DelayRoutingKey(Math.Min(seconds, Topology.MaxLevelDelaySeconds)),
                message.ToProperties(), message.Payload, message.TraceContext, cancellationToken);
    }

    /// <summary>
    /// Moves a message that can never be delivered to its user's dead-letter queue
    /// (<c>queue.dead_letter.{userId}</c>), with why. Use <see cref="DeadLetters.AddAsync"/>, which
    /// declares that queue when this publish comes back.
    /// </summary>
    /// <exception cref="UnroutableMessageException">The user has no dead-letter queue yet.</exception>
    /// <exception cref="BrokerUnavailableException">Not confirmed in time, nacked, or no broker.</exception>
    public Task DeadLetterAsync(UserMessage message, string reason, int? lastStatus, CancellationToken cancellationToken)
    {
        var properties = message.ToProperties();
        var headers = properties.Headers!;
        headers[MessageHeaders.DeadLetterReason] = reason;
        headers[MessageHeaders.DeadLetteredAt] = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (lastStatus is { } status)
        {
            headers[MessageHeaders.LastStatus] = status;
        }

        return PublishConfirmedAsync(Topology.DeadLetterExchange, Topology.DeadLetterRoutingKeyOf(message.UserId), properties, message.Payload, message.TraceContext, cancellationToken);
    }

    /// <summary>
    /// Publishes a dead letter as it is (every header kept, <c>x-death</c> included) to the
    /// dead-letter queue of <paramref name="userId"/>: how the shared inbox is sorted.
    /// </summary>
    /// <exception cref="UnroutableMessageException">The user has no dead-letter queue yet.</exception>
    /// <exception cref="BrokerUnavailableException">Not confirmed in time, nacked, or no broker.</exception>
    public Task RouteDeadLetterAsync(string userId, IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var copy = new BasicProperties(properties)
        {
            Headers = properties.Headers is { } headers ? new Dictionary<string, object?>(headers) : [],
        };
        return PublishConfirmedAsync(Topology.DeadLetterExchange, Topology.DeadLetterRoutingKeyOf(userId), copy, body,
            UserQueuesTelemetry.Extract(copy.Headers), cancellationToken);
    }

    /// <summary>Tells every worker instance about a change. Transient: reconciliation repairs a lost command.</summary>
    public Task PublishControlAsync(ControlCommand command, CancellationToken cancellationToken)
    {
        var properties = new BasicProperties { ContentType = UserMessage.JsonContentType, DeliveryMode = DeliveryModes.Transient };
        return channels.Publishes.RunAsync(
            (channel, ct) => channel.BasicPublishAsync(Topology.ControlExchange, "", mandatory: false, properties, command.ToBytes(), ct).AsTask(),
            cancellationToken);
    }

    /// <param name="carried">The trace context the message arrived with: carried on when no span is recorded here.</param>
    private async Task PublishConfirmedAsync(string exchange, string routingKey, BasicProperties properties, ReadOnlyMemory<byte> body,
        ActivityContext carried, CancellationToken cancellationToken)
    {
        // Our publish span (kind Producer), its context written into the headers (UserQueuesTelemetry).
        using var activity = UserQueuesTelemetry.StartPublish(exchange, routingKey, properties, body.Length, carried);
        try
        {
            await PublishConfirmedCoreAsync(exchange, routingKey, properties, body, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            activity?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
            throw;
        }
    }

    private async Task PublishConfirmedCoreAsync(string exchange, string routingKey, BasicProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            await channels.Publishes.RunAsync(
                (channel, ct) => channel.BasicPublishAsync(exchange, routingKey, mandatory: true, properties, body, ct).AsTask(),
                timeout.Token).ConfigureAwait(false);
        }
        catch (PublishException e) when (e.IsReturn)
        {
            throw new UnroutableMessageException(routingKey, e);
        }
        catch (PublishException e)
        {
            throw new BrokerUnavailableException("The broker refused the message (nack); nothing was stored.", e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new BrokerUnavailableException($"The broker did not confirm the message within {_timeout.TotalSeconds:0} s; it may not be stored.", e);
        }
    }
}
