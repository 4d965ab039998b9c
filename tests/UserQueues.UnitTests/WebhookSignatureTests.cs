using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using UserQueues.Messaging.Signing;
using UserQueues.Worker.Delivery;

namespace UserQueues.UnitTests;

public class WebhookSignatureTests
{
    private static readonly byte[] KeyBytes = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];
    private static readonly string SecretText = "whsec_" + Convert.ToBase64String(KeyBytes);

    /// <summary>The receiver's side, written from the Standard Webhooks spec alone, not from the signer.</summary>
    private static string Expected(byte[] key, string id, long timestamp, string body)
    {
        using var hmac = new HMACSHA256(key);
        return "v1," + Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}")));
    }

    [Fact]
    public void TheSignatureIsTheHmacOfIdTimestampAndBodyWithTheSecretsBytes()
    {
        var secret = WebhookSecret.TryParse(SecretText, out _)!;
        const string body = """{"messageId":"m1","userId":"u1","payload":{"ü":1},"attempt":1,"publishedAt":"2026-12-04T10:00:00.0000000Z"}""";

        var header = WebhookSignature.Create("m1", 1764842400, Encoding.UTF8.GetBytes(body), [secret]);

        Assert.Equal(Expected(KeyBytes, "m1", 1764842400, body), header);
    }

    [Fact]
    public void DuringARotationBothSignaturesAreSentSpaceSeparated()
    {
        var current = WebhookSecret.Generate();
        var previous = WebhookSecret.TryParse(SecretText, out _)!;
        var currentKey = Convert.FromBase64String(current.Reveal()["whsec_".Length..]);

        var header = WebhookSignature.Create("m2", 42, "{}"u8, [current, previous]);

        Assert.Equal($"{Expected(currentKey, "m2", 42, "{}")} {Expected(KeyBytes, "m2", 42, "{}")}", header);
    }

    [Theory]
    [InlineData("", "must start with")]
    [InlineData("secret", "must start with")]
    [InlineData("whsec_not base64!", "base64")]
    [InlineData("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRY=", "24 to 64 bytes")]
    public void AnUnusableSecretIsRefusedWithAReasonThatDoesNotRepeatIt(string text, string says)
    {
        Assert.Null(WebhookSecret.TryParse(text, out var problem));
        Assert.Contains(says, problem);
        if (text.Length > 6)
        {
            Assert.DoesNotContain(text[6..], problem);
        }
    }

    [Fact]
    public void ASecretNeverShowsItsKeyWhenFormatted()
    {
        var secret = WebhookSecret.Generate();
        Assert.Equal("whsec_[redacted]", secret.ToString());
        Assert.Equal("whsec_[redacted]", $"{secret}");
        Assert.StartsWith("whsec_", secret.Reveal());
        Assert.Equal(32, Convert.FromBase64String(secret.Reveal()[6..]).Length);
    }

    [Fact]
    public void TheWorkerRefusesToStartWithAnUnusableGlobalSecretAndSaysWhichKey()
    {
        var validator = new DeliveryOptionsValidator();
        var result = validator.Validate(null, new DeliveryOptions { SigningSecret = "whsec_dG9vc2hvcnQ=" });

        Assert.True(result.Failed);
        Assert.Contains("Delivery:SigningSecret", result.FailureMessage);
        Assert.DoesNotContain("dG9vc2hvcnQ", result.FailureMessage);
        Assert.True(validator.Validate(null, new DeliveryOptions { SigningSecret = SecretText }).Succeeded);
        Assert.True(validator.Validate(null, new DeliveryOptions()).Succeeded);
        Assert.True(validator.Validate(null, new DeliveryOptions { PreviousSigningSecret = SecretText }).Failed);
    }

    [Fact]
    public async Task AUsersOwnSecretsWinOverTheGlobalOne()
    {
        var own = WebhookSecret.Generate();
        var store = new InMemorySecretStore();
        await store.AddIfMissingAsync("u1", own, DateTimeOffset.UnixEpoch, CancellationToken.None);
        var keys = new WebhookSigningKeys(store, Options.Create(new DeliveryOptions { SigningSecret = SecretText }), TimeProvider.System);

        Assert.Equal([own], await keys.ForUserAsync("u1", CancellationToken.None));
        Assert.Equal(KeyBytes, (await keys.ForUserAsync("u2", CancellationToken.None)).Single().Key.ToArray());
        var unsigned = new WebhookSigningKeys(store, Options.Create(new DeliveryOptions()), TimeProvider.System);
        Assert.Empty(await unsigned.ForUserAsync("u2", CancellationToken.None));
    }
}
