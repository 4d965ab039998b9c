using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace UserQueues.Messaging.Signing;

/// <summary>
/// The <c>webhook-signature</c> header of Standard Webhooks: <c>v1,&lt;base64 HMAC-SHA256 of
/// "{id}.{timestamp}.{body}"&gt;</c>, one per secret, space-separated, so that during a rotation a
/// receiver holding either the old or the new secret can verify.
/// </summary>
public static class WebhookSignature
{
    public const string Version = "v1";

    public static string Create(string messageId, long timestamp, ReadOnlySpan<byte> body, IReadOnlyList<WebhookSecret> secrets)
    {
        var prefix = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{messageId}.{timestamp}."));
        var signed = ArrayPool<byte>.Shared.Rent(prefix.Length + body.Length);
        try
        {
            prefix.CopyTo(signed, 0);
            body.CopyTo(signed.AsSpan(prefix.Length));
            var content = signed.AsSpan(0, prefix.Length + body.Length);

            var header = new StringBuilder();
            Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
            foreach (var secret in secrets)
            {
                HMACSHA256.HashData(secret.Key, content, mac);
                header.Append(header.Length == 0 ? "" : " ").Append(Version).Append(',').Append(Convert.ToBase64String(mac));
            }

            return header.ToString();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(signed);
        }
    }
}
