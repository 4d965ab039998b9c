using System.Security.Cryptography;

namespace UserQueues.Messaging.Signing;

/// <summary>
/// A Standard Webhooks signing secret: <c>whsec_</c> followed by the base64 of 24 to 64 random
/// bytes; the bytes (not the text) are the HMAC key
/// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md#signature-scheme).
/// Its <see cref="ToString"/> never shows the key, so a secret logged by mistake leaks nothing.
/// </summary>
public sealed class WebhookSecret
{
    public const string Prefix = "whsec_";
    public const int MinBytes = 24;
    public const int MaxBytes = 64;
    private const int GeneratedBytes = 32;

    private readonly byte[] _key;

    private WebhookSecret(byte[] key) => _key = key;

    /// <summary>The HMAC key.</summary>
    public ReadOnlySpan<byte> Key => _key;

    /// <summary>A new secret from the OS's cryptographic random generator.</summary>
    public static WebhookSecret Generate() => new(RandomNumberGenerator.GetBytes(GeneratedBytes));

    /// <summary>Reads <c>whsec_&lt;base64&gt;</c>; the problem says what is wrong without repeating the text.</summary>
    public static WebhookSecret? TryParse(string? text, out string? problem)
    {
        problem = null;
        if (string.IsNullOrEmpty(text) || !text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            problem = $"a signing secret must start with '{Prefix}'";
            return null;
        }

        var encoded = text.AsSpan(Prefix.Length);
        var key = new byte[encoded.Length];
        if (!Convert.TryFromBase64Chars(encoded, key, out var length))
        {
            problem = $"the part after '{Prefix}' must be base64";
            return null;
        }

        if (length is < MinBytes or > MaxBytes)
        {
            problem = $"a signing secret must hold {MinBytes} to {MaxBytes} bytes, this one holds {length}";
            return null;
        }

        return new WebhookSecret(key[..length]);
    }

    /// <summary>The secret as text (<c>whsec_...</c>), to store it or hand it to its owner once.</summary>
    public string Reveal() => Prefix + Convert.ToBase64String(_key);

    public override string ToString() => Prefix + "[redacted]";
}
