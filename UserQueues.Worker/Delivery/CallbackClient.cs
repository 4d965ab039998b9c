using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using UserQueues.Messaging;
using UserQueues.Messaging.Egress;
using UserQueues.Messaging.Signing;
using UserQueues.Messaging.Telemetry;

namespace UserQueues.Worker.Delivery;

/// <summary>
/// POSTs a message to its callback URL as the delivery contract says: JSON
/// <c>{ messageId, userId, payload, attempt, publishedAt }</c> and the Standard Webhooks headers
/// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).
/// No resilience handler and no redirects: retrying is the broker's job, a redirect is a failure.
/// The URL is checked again here (the broker may hold messages the API never saw), and the
/// handler's <see cref="CallbackConnector"/> checks every address the host resolves to.
/// </summary>
public sealed partial class CallbackClient(
    HttpClient http,
    CallbackAddressPolicy policy,
    CallbackConnector connector,
    WebhookSigningKeys signingKeys,
    IOptions<DeliveryOptions> options,
    TimeProvider time,
    ILogger<CallbackClient> logger)
{
    private static readonly MediaTypeHeaderValue JsonMediaType = new(UserMessage.JsonContentType);
    private readonly DeliveryOptions _options = options.Value;

    /// <summary>
    /// The handler every callback goes through: connections only by <paramref name="connector"/>
    /// (the address policy), no proxy, no redirects, no cookies, connect timeout.
    /// </summary>
    public static SocketsHttpHandler CreateHandler(DeliveryOptions options, CallbackConnector connector) => new()
    {
        // A redirect is a failed delivery, never followed (it could point anywhere).
        AllowAutoRedirect = false,
        // Every connection goes through the address policy (SSRF, DNS rebinding); a proxy would
        // make the policy check the proxy's address instead of the receiver's.
        ConnectCallback = connector.ConnectAsync,
        UseProxy = false,
        UseCookies = false,
        ConnectTimeout = TimeSpan.FromSeconds(options.ConnectTimeoutSeconds),
        MaxConnectionsPerServer = options.MaxConnectionsPerServer,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
    };

    public async Task<DeliveryResult> PostAsync(UserMessage message, CancellationToken cancellationToken)
    {
        if (CallbackUrls.Check(message.CallbackUrl, policy, out var url) is { } problem)
        {
            return DeliveryResult.NotAllowed(problem.TrimEnd('.'));
        }

        var body = new ArrayBufferWriter<byte>(message.Payload.Length + 256);
        message.WriteCallbackBody(body);
        var timestamp = time.GetUtcNow().ToUnixTimeSeconds();

        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new ReadOnlyMemoryContent(body.WrittenMemory),
            // HTTP/3 runs over QUIC, which does not go through ConnectCallback: never ask for it
            // (nor let an Alt-Svc answer upgrade to it).
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        request.Content.Headers.ContentType = JsonMediaType;
        request.Headers.TryAddWithoutValidation(WebhookHeaders.Id, message.MessageId);
        request.Headers.TryAddWithoutValidation(WebhookHeaders.Timestamp, timestamp.ToString(CultureInfo.InvariantCulture));

        IReadOnlyList<WebhookSecret> secrets;
        try
        {
            secrets = await signingKeys.ForUserAsync(message.UserId, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Never sent unsigned when the user may have a secret: try again later.
            LogSecretsUnavailable(logger, message.UserId, e);
            return new DeliveryResult(DeliveryVerdict.Retryable, null, "the signing secret could not be read from the registry");
        }

        if (secrets.Count > 0)
        {
            request.Headers.TryAddWithoutValidation(WebhookHeaders.Signature,
                WebhookSignature.Create(message.MessageId, timestamp, body.WrittenSpan, secrets));
        }

        var started = time.GetTimestamp();
        var result = await SendAsync(request, message, cancellationToken).ConfigureAwait(false);
        UserQueuesTelemetry.CallbackAttempt(time.GetElapsedTime(started), result.StatusCode, result.Verdict == DeliveryVerdict.Delivered);
        return result;
    }

    /// <summary>
    /// The HTTP exchange. System.Net.Http's client span is a child of the current process span and
    /// its W3C <c>traceparent</c> reaches the receiver.
    /// </summary>
    private async Task<DeliveryResult> SendAsync(HttpRequestMessage request, UserMessage message, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(_options.TimeoutSeconds));
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            await DrainAsync(response, timeout.Token).ConfigureAwait(false);
            var result = DeliveryResult.FromStatus((int)response.StatusCode, RetryPolicy.ParseRetryAfter(response.Headers.RetryAfter, time.GetUtcNow()));
            LogAttempt(request, message, result);
            return result;
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            return DeliveryResult.FromException(e, timedOut: true);
        }
        catch (HttpRequestException e) when (DeliveryResult.FindRefusal(e) is { } refusal)
        {
            return DeliveryResult.Refused(refusal);
        }
        catch (HttpRequestException e)
        {
            return DeliveryResult.FromException(e, timedOut: false);
        }
    }

    /// <summary>Reads at most <see cref="DeliveryOptions.MaxResponseBytes"/> of the answer; the rest is never read.</summary>
    private async Task DrainAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            var remaining = _options.MaxResponseBytes;
            int read;
            while (remaining > 0 && (read = await stream.ReadAsync(buffer.AsMemory(0, Math.Min(buffer.Length, remaining)), cancellationToken).ConfigureAwait(false)) > 0)
            {
                remaining -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Each attempt with the address it went to: connections are pooled per host and port, and
    /// every one of them was opened (logged, checked) by <see cref="CallbackConnector"/>.
    /// </summary>
    private void LogAttempt(HttpRequestMessage request, UserMessage message, DeliveryResult result)
    {
        var url = request.RequestUri!;
        var address = connector.LastConnectedAddress(url.IdnHost, url.Port)?.ToString() ?? "unknown";
        if (result.Verdict == DeliveryVerdict.Delivered)
        {
            LogDeliveredTo(logger, message.MessageId, url.IdnHost, address, result.StatusCode ?? 0);
        }
        else
        {
            LogAnsweredBy(logger, message.MessageId, url.IdnHost, address, result.StatusCode ?? 0);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Callback of {MessageId} to {Host} via {Address}: HTTP {StatusCode}")]
    private static partial void LogDeliveredTo(ILogger logger, string messageId, string host, string address, int statusCode);

    [LoggerMessage(Level = LogLevel.Information, Message = "Callback of {MessageId} to {Host} via {Address}: HTTP {StatusCode}, not delivered")]
    private static partial void LogAnsweredBy(ILogger logger, string messageId, string host, string address, int statusCode);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not read the signing secrets of {UserId}; the delivery is not sent unsigned")]
    private static partial void LogSecretsUnavailable(ILogger logger, string userId, Exception exception);
}
