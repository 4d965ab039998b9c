using System.Net.Sockets;

namespace UserQueues.Worker.Delivery;

/// <summary>What a callback attempt means for the message.</summary>
public enum DeliveryVerdict
{
    /// <summary>2xx: the receiver has it.</summary>
    Delivered,

    /// <summary>408, 425, 429, 5xx, timeouts and connection errors: worth another attempt later.</summary>
    Retryable,

    /// <summary>Other 4xx, 3xx (redirects are not followed), and refused destinations: never worth retrying.</summary>
    Permanent,
}

/// <summary>The outcome of one callback attempt.</summary>
public sealed record DeliveryResult(DeliveryVerdict Verdict, int? StatusCode, string Reason)
{
    /// <summary>The receiver's Retry-After, when it sent one with a retryable answer.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>
    /// Classifies an HTTP status the way ARCHITECTURE.md's delivery contract says. 1xx never
    /// reaches here (HttpClient consumes it); anything outside 2xx that is not listed as
    /// retryable is permanent.
    /// </summary>
    public static DeliveryVerdict Classify(int statusCode) => statusCode switch
    {
        >= 200 and <= 299 => DeliveryVerdict.Delivered,
        408 or 425 or 429 => DeliveryVerdict.Retryable,
        >= 500 and <= 599 => DeliveryVerdict.Retryable,
        _ => DeliveryVerdict.Permanent,
    };

    public static DeliveryResult FromStatus(int statusCode, TimeSpan? retryAfter = null)
    {
        var verdict = Classify(statusCode);
        return new DeliveryResult(verdict, statusCode, verdict switch
        {
            DeliveryVerdict.Delivered => $"delivered (HTTP {statusCode})",
            DeliveryVerdict.Retryable => $"the receiver answered HTTP {statusCode}, a temporary failure",
            _ => $"the receiver answered HTTP {statusCode}, which is not retried",
        })
        {
            RetryAfter = verdict == DeliveryVerdict.Retryable ? retryAfter : null,
        };
    }

    /// <summary>
    /// The destination is in a network callbacks may not reach: no connection was opened, and
    /// retrying cannot help (only a configuration change can).
    /// </summary>
    public static DeliveryResult Refused(CallbackDestinationRefusedException refusal) =>
        new(DeliveryVerdict.Permanent, null, refusal.Reason);

    /// <summary>The callback URL itself is not allowed (scheme, credentials, literal blocked address).</summary>
    public static DeliveryResult NotAllowed(string problem) =>
        new(DeliveryVerdict.Permanent, null, problem);

    /// <summary>The refusal behind a failed request, however deep SocketsHttpHandler wrapped it.</summary>
    public static CallbackDestinationRefusedException? FindRefusal(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is CallbackDestinationRefusedException refusal)
            {
                return refusal;
            }
        }

        return null;
    }

    /// <summary>An attempt that got no HTTP answer: timeouts, DNS, refused or reset connections, TLS.</summary>
    public static DeliveryResult FromException(Exception exception, bool timedOut) => timedOut
        ? new DeliveryResult(DeliveryVerdict.Retryable, null, "the receiver did not answer in time")
        : new DeliveryResult(DeliveryVerdict.Retryable, null, exception switch
        {
            HttpRequestException { InnerException: SocketException socket } => $"connection failed: {socket.SocketErrorCode}",
            HttpRequestException http => $"request failed: {http.HttpRequestError}",
            _ => $"request failed: {exception.GetType().Name}",
        });
}
