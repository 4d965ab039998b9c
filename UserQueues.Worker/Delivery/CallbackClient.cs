using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using UserQueues.Messaging;
using UserQueues.Messaging.Egress;
using UserQueues.Messaging.Signing;

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

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(_options.TimeoutSeconds));
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            await DrainAsync(response, timeout.Token).ConfigureAwait(false);
            return DeliveryResult.FromStatus((int)response.StatusCode);
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not read the signing secrets of {UserId}; the delivery is not sent unsigned")]
    private static partial void LogSecretsUnavailable(ILogger logger, string userId, Exception exception);
}
