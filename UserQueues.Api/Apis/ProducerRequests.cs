using System.Text.Json;
using UserQueues.Messaging;
using UserQueues.Messaging.Egress;
using UserQueues.Messaging.Registry;

namespace UserQueues.Api.Apis;

/// <summary>A validated <c>POST /send-message</c>.</summary>
internal sealed record SendMessageCommand(string UserId, Uri CallbackUrl, ReadOnlyMemory<byte> Payload, int DelaySeconds);

/// <summary>A validated <c>POST /create-queue</c>.</summary>
internal sealed record CreateQueueCommand(string UserId, long? TtlMs, QueueOrdering? Ordering = null);

/// <summary>
/// Validation of the producer requests. Every problem found is reported at once, keyed by the
/// field, with a sentence saying how to fix it.
/// </summary>
internal static class ProducerRequests
{
    public const string UserIdField = "userId";
    public const string InstanceKeyField = "instance_key";

    public static CreateQueueCommand? ReadCreateQueue(JsonElement body, out Dictionary<string, string[]> errors)
    {
        errors = [];
        var userId = ReadUserId(body, errors);
        long? ttlMs = null;
        if (body.TryGetProperty("ttlMs", out var ttl) && ttl.ValueKind != JsonValueKind.Null)
        {
            if (ttl.ValueKind != JsonValueKind.Number || !ttl.TryGetInt64(out var value))
            {
                errors["ttlMs"] = ["ttlMs must be a whole number of milliseconds."];
            }
            else if (value is < MessagingOptions.MinQueueTtlMs or > MessagingOptions.MaxQueueTtlMs)
            {
                errors["ttlMs"] = [$"ttlMs must be between {MessagingOptions.MinQueueTtlMs} (1 s) and {MessagingOptions.MaxQueueTtlMs} (30 days); got {value}."];
            }
            else
            {
                ttlMs = value;
            }
        }

        QueueOrdering? ordering = null;
        if (body.TryGetProperty("ordering", out var orderingElement) && orderingElement.ValueKind != JsonValueKind.Null)
        {
            ordering = orderingElement.ValueKind == JsonValueKind.String ? orderingElement.GetString() switch
            {
                "default" => QueueOrdering.Default,
                "strict" => QueueOrdering.Strict,
                _ => null,
            } : null;
            if (ordering is null)
            {
                errors["ordering"] = ["ordering must be \"default\" (a retried message re-enters later) or \"strict\" (the user's queue waits for it)."];
            }
        }

        return errors.Count == 0 ? new CreateQueueCommand(userId!, ttlMs, ordering) : null;
    }

    /// <summary>
    /// Reads a send-message body. <paramref name="policy"/> decides which literal IP callback hosts
    /// are refused (the worker's rules, from the same <c>Delivery:*</c> settings); without one, only
    /// public addresses pass.
    /// </summary>
    public static SendMessageCommand? ReadSendMessage(JsonElement body, long maxDelaySeconds, out Dictionary<string, string[]> errors, CallbackAddressPolicy? policy = null)
    {
        errors = [];
        var userId = ReadUserId(body, errors);
        var callbackUrl = ReadCallbackUrl(body, errors, policy ?? CallbackAddressPolicy.PublicOnly);

        var payload = JsonPayloadNull;
        if (body.TryGetProperty("payload", out var payloadElement))
        {
            payload = JsonSerializer.SerializeToUtf8Bytes(payloadElement);
        }

        var delaySeconds = 0;
        if (body.TryGetProperty("delaySeconds", out var delay) && delay.ValueKind != JsonValueKind.Null)
        {
            if (delay.ValueKind != JsonValueKind.Number || !delay.TryGetInt64(out var seconds) || seconds < 0)
            {
                errors["delaySeconds"] = ["delaySeconds must be a whole number of seconds, 0 or more."];
            }
            else if (seconds > maxDelaySeconds)
            {
                errors["delaySeconds"] = [$"delaySeconds may be at most {maxDelaySeconds} ({TimeSpan.FromSeconds(maxDelaySeconds).TotalDays:0.#} days); got {seconds}."];
            }
            else
            {
                delaySeconds = (int)seconds;
            }
        }

        return errors.Count == 0 ? new SendMessageCommand(userId!, callbackUrl!, payload, delaySeconds) : null;
    }

    private static readonly byte[] JsonPayloadNull = "null"u8.ToArray();

    /// <summary>The seed accepts the user as <c>userId</c> or <c>instance_key</c>.</summary>
    private static string? ReadUserId(JsonElement body, Dictionary<string, string[]> errors)
    {
        var userId = ReadString(body, UserIdField, errors);
        var instanceKey = ReadString(body, InstanceKeyField, errors);
        if (errors.Count > 0)
        {
            return null;
        }

        if (userId is not null && instanceKey is not null && userId != instanceKey)
        {
            errors[UserIdField] = [$"userId '{userId}' and instance_key '{instanceKey}' disagree; send one of them."];
            return null;
        }

        var chosen = userId ?? instanceKey;
        if (UserIds.Validate(chosen) is { } problem)
        {
            errors[UserIdField] = [problem];
            return null;
        }

        return chosen;
    }

    private static Uri? ReadCallbackUrl(JsonElement body, Dictionary<string, string[]> errors, CallbackAddressPolicy policy)
    {
        const string field = "callbackUrl";
        var text = ReadString(body, field, errors);
        if (errors.ContainsKey(field))
        {
            return null;
        }

        if (CallbackUrls.Check(text, policy, out var url) is { } problem)
        {
            errors[field] = [problem];
            return null;
        }

        return url;
    }

    private static string? ReadString(JsonElement body, string name, Dictionary<string, string[]> errors)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            errors[name] = [$"{name} must be a string, not {value.ValueKind.ToString().ToLowerInvariant()}."];
            return null;
        }

        return value.GetString();
    }
}
