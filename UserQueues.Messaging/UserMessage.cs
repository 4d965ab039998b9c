using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RabbitMQ.Client;

namespace UserQueues.Messaging;

/// <summary>
/// One message for one user's callback, as it travels through the broker: the body is the
/// producer's payload (JSON, untouched), everything else is in AMQP properties and headers, so a
/// message can be inspected, dead-lettered and replayed without re-serialising the payload.
/// </summary>
public sealed record UserMessage(
    string MessageId,
    string UserId,
    string CallbackUrl,
    ReadOnlyMemory<byte> Payload,
    DateTimeOffset PublishedAt,
    int Attempt = 1)
{
    public const string JsonContentType = "application/json";

    /// <summary>The trace context the message arrived with (its publish span); default when none.</summary>
    public ActivityContext TraceContext { get; init; }

    /// <summary>On a retry: the previous attempt's process span, which the next attempt links to.</summary>
    public ActivityContext PreviousAttempt { get; init; }

    /// <summary>
    /// Persistent properties carrying everything but the payload. The trace context is not among
    /// them: the publisher writes its own publish span's context (UserQueuesTelemetry).
    /// </summary>
    public BasicProperties ToProperties()
    {
        var headers = new Dictionary<string, object?>
        {
            [MessageHeaders.UserId] = UserId,
            [MessageHeaders.CallbackUrl] = CallbackUrl,
            [MessageHeaders.PublishedAt] = PublishedAt.ToUnixTimeMilliseconds(),
            [MessageHeaders.Attempt] = Attempt,
        };
        if (PreviousAttempt != default)
        {
            headers[MessageHeaders.PreviousAttempt] = Telemetry.UserQueuesTelemetry.TraceParent(PreviousAttempt);
        }

        return new BasicProperties
        {
            MessageId = MessageId,
            ContentType = JsonContentType,
            DeliveryMode = DeliveryModes.Persistent,
            Timestamp = new AmqpTimestamp(PublishedAt.ToUnixTimeSeconds()),
            Headers = headers,
        };
    }

    /// <summary>
    /// Reads a delivered message back. The body is copied: RabbitMQ.Client reuses its buffer once
    /// the delivery handler returns.
    /// </summary>
    public static UserMessage? TryRead(IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body, out string? error)
    {
        var headers = properties.Headers;
        var userId = HeaderString(headers, MessageHeaders.UserId);
        var callbackUrl = HeaderString(headers, MessageHeaders.CallbackUrl);
        if (string.IsNullOrEmpty(properties.MessageId) || userId is null || callbackUrl is null)
        {
            error = $"the message lacks its message id, {MessageHeaders.UserId} or {MessageHeaders.CallbackUrl}; it was not published by UserQueues.";
            return null;
        }

        var publishedAtMs = HeaderLong(headers, MessageHeaders.PublishedAt) ?? properties.Timestamp.UnixTime * 1000;
        var attempt = (int)Math.Clamp(HeaderLong(headers, MessageHeaders.Attempt) ?? 1, 1, int.MaxValue);
        error = null;
        return new UserMessage(
            properties.MessageId, userId, callbackUrl, body.ToArray(),
            DateTimeOffset.FromUnixTimeMilliseconds(publishedAtMs), attempt)
        {
            TraceContext = Telemetry.UserQueuesTelemetry.Extract(headers),
            PreviousAttempt = HeaderString(headers, MessageHeaders.PreviousAttempt) is { } previous
                && ActivityContext.TryParse(previous, null, isRemote: true, out var context) ? context : default,
        };
    }

    /// <summary>
    /// The callback request body: <c>{ messageId, userId, payload, attempt, publishedAt }</c>, the
    /// payload written as the producer sent it.
    /// </summary>
    public void WriteCallbackBody(IBufferWriter<byte> output)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        writer.WriteString("messageId", MessageId);
        writer.WriteString("userId", UserId);
        writer.WritePropertyName("payload");
        writer.WriteRawValue(Payload.Span, skipInputValidation: true);
        writer.WriteNumber("attempt", Attempt);
        writer.WriteString("publishedAt", PublishedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        writer.WriteEndObject();
    }

    public static string? HeaderString(IDictionary<string, object?>? headers, string name) =>
        headers is not null && headers.TryGetValue(name, out var value)
            ? value switch
            {
                byte[] bytes => Encoding.UTF8.GetString(bytes),
                string text => text,
                null => null,
                _ => Convert.ToString(value, CultureInfo.InvariantCulture),
            }
            : null;

    public static long? HeaderLong(IDictionary<string, object?>? headers, string name) =>
        headers is not null && headers.TryGetValue(name, out var value)
            ? value switch
            {
                int i => i,
                long l => l,
                short s => s,
                byte b => b,
                uint u => u,
                byte[] bytes when long.TryParse(Encoding.UTF8.GetString(bytes), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) => parsed,
                _ => null,
            }
            : null;

    /// <summary>Identifies the message in logs without writing its payload there.</summary>
    public override string ToString() =>
        $"{MessageId} for {UserId} (attempt {Attempt}, {Payload.Length} payload bytes)";
}
