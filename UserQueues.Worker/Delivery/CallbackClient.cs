using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using Microsoft.Extensions.Options;
using UserQueues.Messaging;

namespace UserQueues.Worker.Delivery;

/// <summary>
/// POSTs a message to its callback URL as the delivery contract says: JSON
/// <c>{ messageId, userId, payload, attempt, publishedAt }</c> and the Standard Webhooks headers
/// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).
/// No resilience handler and no redirects: retrying is the broker's job, a redirect is a failure.
/// </summary>
public sealed class CallbackClient(HttpClient http, IOptions<DeliveryOptions> options, TimeProvider time)
{
    private static readonly MediaTypeHeaderValue JsonMediaType = new(UserMessage.JsonContentType);
    private readonly DeliveryOptions _options = options.Value;

    public async Task<DeliveryResult> PostAsync(UserMessage message, CancellationToken cancellationToken)
    {
        var body = new ArrayBufferWriter<byte>(message.Payload.Length + 256);
        message.WriteCallbackBody(body);

        using var request = new HttpRequestMessage(HttpMethod.Post, message.CallbackUrl)
        {
            Content = new ReadOnlyMemoryContent(body.WrittenMemory),
        };
        request.Content.Headers.ContentType = JsonMediaType;
        request.Headers.TryAddWithoutValidation(WebhookHeaders.Id, message.MessageId);
        request.Headers.TryAddWithoutValidation(WebhookHeaders.Timestamp,
            time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(_options.TimeoutSeconds));
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            await DrainAsync(response, timeout.Token).ConfigureAwait(false);
            return DeliveryResult.FromStatus((int)response.StatusCode, RetryPolicy.ParseRetryAfter(response.Headers.RetryAfter, time.GetUtcNow()));
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            return DeliveryResult.FromException(e, timedOut: true);
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
}
