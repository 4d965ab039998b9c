using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using UserQueues.Messaging;

namespace UserQueues.FunctionalTests;

/// <summary>Issue 5 through the real system: signatures at the receiver, connect-time SSRF refusal, the per-user rate limit.</summary>
[Collection(UserQueuesAppGroup.Name)]
public sealed class SecurityTests(UserQueuesAppFixture system)
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The receiver's check, written from the Standard Webhooks spec, independent of UserQueues' signer.</summary>
    private static void AssertSignedWith(byte[] key, ReceivedCallback callback)
    {
        using var hmac = new HMACSHA256(key);
        var signed = $"{callback.Headers["webhook-id"]}.{callback.Headers["webhook-timestamp"]}.{callback.Body}";
        var expected = "v1," + Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes(signed)));
        Assert.Contains(expected, callback.Headers["webhook-signature"].Split(' '));
    }

    [Fact]
    public async Task DeliveriesAreSignedWithTheSecretCreateQueueReturnedOnce()
    {
        var created = await (await system.Api.PostAsJsonAsync("/create-queue", new { userId = "sig-1" })).Content.ReadFromJsonAsync<JsonElement>();
        var secret = created.GetProperty("signingSecret").GetString()!;
        var again = await (await system.Api.PostAsJsonAsync("/create-queue", new { userId = "sig-1" })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(again.TryGetProperty("signingSecret", out _));

        var sent = await system.Api.PostAsJsonAsync("/send-message", new { userId = "sig-1", callbackUrl = system.Sink.UrlFor("sig-1"), payload = new { a = "ü" } });
        sent.EnsureSuccessStatusCode();

        var callback = Assert.Single(await system.Sink.WaitForAsync("sig-1", c => c.Count >= 1, DeliveryTimeout));
        var signature = callback.Headers["webhook-signature"];
        Assert.Single(signature.Split(' '));
        AssertSignedWith(Convert.FromBase64String(secret["whsec_".Length..]), callback);
    }

    [Fact]
    public async Task AUserWithoutASecretOfItsOwnIsSignedWithTheGlobalSecret()
    {
        var sent = await system.Api.PostAsJsonAsync("/send-message", new { userId = "sig-2", callbackUrl = system.Sink.UrlFor("sig-2"), payload = 7 });
        sent.EnsureSuccessStatusCode();

        var callback = Assert.Single(await system.Sink.WaitForAsync("sig-2", c => c.Count >= 1, DeliveryTimeout));
        AssertSignedWith(UserQueuesAppFixture.GlobalSigningKey, callback);
    }

    [Fact]
    public async Task AMessageForABlockedAddressThatReachedTheQueueIsDeadLetteredAndNeverConnects()
    {
        // A listener on 127.0.0.2 (loopback, but outside the allowed 127.0.0.1/32): it would count
        // the connection if the worker's guard let one through.
        using var listener = new TcpListener(IPAddress.Parse("127.0.0.2"), 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var accepted = 0;
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    using var client = await listener.AcceptTcpClientAsync(stop.Token);
                    Interlocked.Increment(ref accepted);
                }
            }
            catch (OperationCanceledException)
            {
            }
        });

        (await system.Api.PostAsJsonAsync("/create-queue", new { userId = "ssrf-1" })).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(
            async () => (await system.Broker.InspectAsync("queue.user.ssrf-1"))?.ConsumerCount ?? 0,
            consumers => consumers == 1, TimeSpan.FromSeconds(10), "a consumer on queue.user.ssrf-1");

        // Straight onto the broker: the API would have refused this URL (400), the worker must too.
        var message = new UserMessage(Guid.CreateVersion7().ToString(), "ssrf-1", $"http://127.0.0.2:{port}/internal", "{\"x\":1}"u8.ToArray(), DateTimeOffset.UtcNow);
        await system.Broker.PublishAsync(message);

        var deadLetters = await Eventually.WaitAsync(
            () => system.Broker.TakeDeadLettersAsync("ssrf-1"), letters => letters.Count > 0, DeliveryTimeout, "a dead letter for ssrf-1");
        var (properties, body) = Assert.Single(deadLetters);
        Assert.Equal(message.MessageId, properties.MessageId);
        Assert.Equal("""{"x":1}""", body);
        Assert.Contains("destination 127.0.0.2 is in a blocked network (loopback); allow it with Delivery:AllowedNetworks",
            UserMessage.HeaderString(properties.Headers, MessageHeaders.DeadLetterReason));
        Assert.Null(UserMessage.HeaderLong(properties.Headers, MessageHeaders.LastStatus));

        await stop.CancelAsync();
        listener.Stop();
        await accepting;
        Assert.Equal(0, accepted);
    }

    [Fact]
    public async Task AUserOverItsRateLimitGets429WithRetryAfterAndOtherUsersAreUnaffected()
    {
        // The test system: burst 40, 1 message/s per user. Send until the bucket is empty.
        HttpResponseMessage? limited = null;
        var accepted = 0;
        for (var i = 0; i < 100 && limited is null; i++)
        {
            var response = await system.Api.PostAsJsonAsync("/send-message", new { userId = "rate-1", callbackUrl = system.Sink.UrlFor("rate-1"), payload = i });
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited = response;
            }
            else
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                accepted++;
            }
        }

        Assert.NotNull(limited);
        Assert.InRange(accepted, 40, 99);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        var problem = await limited.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(429, problem.GetProperty("status").GetInt32());
        Assert.False(problem.GetProperty("success").GetBoolean());

        // Another user, right now, is served.
        var other = await system.Api.PostAsJsonAsync("/send-message", new { userId = "rate-2", callbackUrl = system.Sink.UrlFor("rate-2"), payload = 1 });
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);

        // What was refused was not published: the receiver gets exactly the accepted messages.
        await system.Sink.WaitForAsync("rate-1", c => c.Count >= accepted, DeliveryTimeout);
        await Eventually.WaitAsync(
            async () => (await system.Broker.InspectAsync("queue.user.rate-1"))?.MessageCount ?? 0,
            n => n == 0, TimeSpan.FromSeconds(10), "queue.user.rate-1 drained");
        Assert.Equal(accepted, system.Sink.For("rate-1").Count);
    }
}
