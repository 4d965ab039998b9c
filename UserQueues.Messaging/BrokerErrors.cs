using RabbitMQ.Client.Exceptions;

namespace UserQueues.Messaging;

/// <summary>The broker could not be reached or did not answer in time; nothing was stored.</summary>
public sealed class BrokerUnavailableException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>One meaning for callers, whatever the client library threw: no broker right now.</summary>
    public static BrokerUnavailableException Unreachable(Exception inner) =>
        new("The message broker is unreachable; nothing was stored.", inner);
}

/// <summary>A queue exists with settings other than the ones asked for.</summary>
public sealed class QueueSettingsConflictException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The broker returned a mandatory message: no queue was bound to its routing key.</summary>
public sealed class UnroutableMessageException(string routingKey, Exception? inner = null)
    : Exception($"No queue is bound to routing key '{routingKey}'; the broker returned the message.", inner)
{
    public string RoutingKey { get; } = routingKey;
}

internal static class AmqpReplyCodes
{
    public const ushort NotFound = 404;
    public const ushort PreconditionFailed = 406;

    public static ushort? Of(Exception exception) => exception switch
    {
        OperationInterruptedException { ShutdownReason: { } reason } => reason.ReplyCode,
        _ => null,
    };

    /// <summary>True for failures that mean "the broker is not there right now", not "the request was wrong".</summary>
    public static bool IsUnavailable(Exception exception) => exception is
        BrokerUnreachableException or AlreadyClosedException or ConnectFailureException or
        System.Net.Sockets.SocketException or IOException or TimeoutException ||
        (exception is OperationInterruptedException && Of(exception) is not (NotFound or PreconditionFailed));
}
