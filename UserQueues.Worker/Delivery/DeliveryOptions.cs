using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using UserQueues.Messaging.Signing;

namespace UserQueues.Worker.Delivery;

/// <summary>How callbacks are made (section <c>Delivery</c>).</summary>
public sealed class DeliveryOptions
{
    public const string SectionName = "Delivery";

    /// <summary>Whole-request timeout of one callback attempt.</summary>
    [Range(1, 300)]
    public int TimeoutSeconds { get; set; } = 15;

    /// <summary>Time allowed to open the TCP (and TLS) connection.</summary>
    [Range(1, 60)]
    public int ConnectTimeoutSeconds { get; set; } = 5;

    /// <summary>At most this much of a receiver's response is read (and kept for diagnostics).</summary>
    [Range(0, 1024 * 1024)]
    public int MaxResponseBytes { get; set; } = 64 * 1024;

    /// <summary>Attempts in all (the first one included) before a message is dead-lettered.</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Cap of the exponential backoff <c>min(cap, 2^attempt s)</c> (the seed's 60 s).</summary>
    [Range(1, 86_400)]
    public int MaxBackoffSeconds { get; set; } = 60;

    /// <summary>A receiver's Retry-After is honoured up to this many seconds.</summary>
    [Range(1, 7 * 86_400)]
    public int MaxRetryAfterSeconds { get; set; } = 3600;

    /// <summary>Up to this fraction is added at random to each backoff (0 = none), so that retries of many messages spread out.</summary>
    [Range(0.0, 1.0)]
    public double RetryJitter { get; set; }

    /// <summary>Connections kept open to one receiver.</summary>
    [Range(1, 10_000)]
    public int MaxConnectionsPerServer { get; set; } = 256;

    /// <summary>
    /// Signs deliveries of users without a secret of their own (<c>whsec_&lt;base64&gt;</c>, 24 to
    /// 64 bytes). Unset: those deliveries are not signed.
    /// </summary>
    public string? SigningSecret { get; set; }

    /// <summary>The global secret being rotated out: while set, deliveries carry both signatures.</summary>
    public string? PreviousSigningSecret { get; set; }

    /// <summary>How long a user's secrets are cached by a worker: a rotation reaches every worker within this time.</summary>
    [Range(0, 3600)]
    public int SigningSecretCacheSeconds { get; set; } = 30;
}

/// <summary>Stops the worker at start when a configured signing secret cannot be used (without repeating it).</summary>
internal sealed class DeliveryOptionsValidator : IValidateOptions<DeliveryOptions>
{
    public ValidateOptionsResult Validate(string? name, DeliveryOptions options)
    {
        var failures = new List<string>();
        Check(options.SigningSecret, "Delivery:SigningSecret", failures);
        Check(options.PreviousSigningSecret, "Delivery:PreviousSigningSecret", failures);
        if (string.IsNullOrEmpty(options.SigningSecret) && !string.IsNullOrEmpty(options.PreviousSigningSecret))
        {
            failures.Add("Delivery:PreviousSigningSecret is set without Delivery:SigningSecret; set the new secret as Delivery:SigningSecret.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Check(string? secret, string key, List<string> failures)
    {
        if (!string.IsNullOrEmpty(secret) && WebhookSecret.TryParse(secret, out var problem) is null)
        {
            failures.Add($"{key} is not usable: {problem}. Generate one with: echo \"whsec_$(openssl rand -base64 32)\"");
        }
    }
}
