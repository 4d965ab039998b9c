using System.Net;

namespace UserQueues.Messaging.Egress;

/// <summary>
/// The rules a callback URL must follow, checked by the API when a message is submitted and by the
/// worker again before each attempt (a message can reach the broker by other ways than the API).
/// </summary>
public static class CallbackUrls
{
    public const int MaxLength = 2048;

    /// <summary>
    /// Null when <paramref name="text"/> is a usable callback URL (then <paramref name="url"/> is
    /// set); else a sentence saying what to fix. A host that is a literal IP address (in any
    /// spelling <see cref="Uri"/> accepts: <c>2130706433</c>, <c>0x7f.1</c>, <c>[::ffff:127.0.0.1]</c>)
    /// is checked against <paramref name="policy"/>; a host name is checked when it is resolved.
    /// </summary>
    public static string? Check(string? text, CallbackAddressPolicy policy, out Uri? url)
    {
        url = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return "callbackUrl is required: the absolute http(s) URL the message is POSTed to.";
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var parsed) || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps))
        {
            return $"callbackUrl must be an absolute http:// or https:// URL; got '{text}'.";
        }

        if (!string.IsNullOrEmpty(parsed.UserInfo))
        {
            return "callbackUrl must not carry credentials (user:password@); use a signing secret to authenticate deliveries.";
        }

        if (text.Length > MaxLength)
        {
            return $"callbackUrl is longer than {MaxLength} characters.";
        }

        if (LiteralAddress(parsed) is { } address && policy.Refuse(address) is { } refusal)
        {
            return $"callbackUrl is refused: {refusal}.";
        }

        url = parsed;
        return null;
    }

    /// <summary>
    /// The host as an IP address when it is one. <see cref="Uri"/> already turns decimal, hex and
    /// octal IPv4 spellings into dotted form; a trailing dot (<c>127.0.0.1.</c>), which makes Uri
    /// call it a DNS name, is removed first because resolvers treat it as the same address.
    /// </summary>
    public static IPAddress? LiteralAddress(Uri url)
    {
        var host = url.IdnHost.TrimEnd('.');
        return IPAddress.TryParse(host, out var address) ? address : null;
    }
}
