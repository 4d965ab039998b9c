using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace UserQueues.FunctionalTests;

[Collection(UserQueuesAppGroup.Name)]
public sealed class ProducerApiTests(UserQueuesAppFixture system)
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task CreateQueueAnswersTheSeedShapeAndDeclaresTheQueue()
    {
        var response = await system.Api.PostAsJsonAsync("/create-queue", new { userId = "create-1", ttlMs = 600000 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        // The seed's fields, as the seed wrote them, then the user's signing secret (new, so shown once).
        Assert.Equal(["success", "queueName", "routingKey", "signingSecret"], body.EnumerateObject().Select(p => p.Name));
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.Equal("queue.user.create-1", body.GetProperty("queueName").GetString());
        Assert.Equal("user.create-1", body.GetProperty("routingKey").GetString());
        Assert.StartsWith("whsec_", body.GetProperty("signingSecret").GetString());

        var arguments = await system.Broker.QueueArgumentsAsync("queue.user.create-1");
        Assert.True(arguments.GetProperty("x-single-active-consumer").GetBoolean());
        // The idle TTL lives in the registry; the broker never expires a queue by itself.
        Assert.False(arguments.TryGetProperty("x-expires", out _));
        Assert.Equal(600000, (await system.Registry.FindAsync("create-1", CancellationToken.None))!.TtlMs);
    }

    [Fact]
    public async Task CreateQueueIsIdempotentAndRefusesAnotherTtl()
    {
        var first = await system.Api.PostAsJsonAsync("/create-queue", new { userId = "create-2", ttlMs = 60000 });
        var again = await system.Api.PostAsJsonAsync("/create-queue", new { userId = "create-2", ttlMs = 60000 });
        var withoutTtl = await system.Api.PostAsJsonAsync("/create-queue", new { userId = "create-2" });
        var otherTtl = await system.Api.PostAsJsonAsync("/create-queue", new { userId = "create-2", ttlMs = 120000 });

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(HttpStatusCode.OK, withoutTtl.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, otherTtl.StatusCode);
        Assert.Contains("ttlMs=60000", await otherTtl.Content.ReadAsStringAsync());
        Assert.Equal(60000, (await system.Registry.FindAsync("create-2", CancellationToken.None))!.TtlMs);
    }

    [Fact]
    public async Task SendMessageReachesTheCallbackWithPayloadAndWebhookHeaders()
    {
        var response = await system.Api.PostAsJsonAsync("/send-message", new
        {
            instance_key = "send-1",
            callbackUrl = system.Sink.UrlFor("send-1"),
            payload = new { hello = "world", n = 42 },
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(answer.GetProperty("success").GetBoolean());
        var messageId = answer.GetProperty("messageId").GetString()!;
        Assert.True(Guid.TryParse(messageId, out _));

        var callback = Assert.Single(await system.Sink.WaitForAsync("send-1", c => c.Count >= 1, DeliveryTimeout));
        Assert.Equal(messageId, callback.Headers["webhook-id"]);
        var timestamp = long.Parse(callback.Headers["webhook-timestamp"], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(DateTimeOffset.FromUnixTimeSeconds(timestamp), DateTimeOffset.UtcNow.AddMinutes(-2), DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.StartsWith("application/json", callback.Headers["content-type"]);

        var body = callback.Json;
        Assert.Equal(messageId, body.GetProperty("messageId").GetString());
        Assert.Equal("send-1", body.GetProperty("userId").GetString());
        Assert.Equal("""{"hello":"world","n":42}""", body.GetProperty("payload").GetRawText());
        Assert.Equal(1, body.GetProperty("attempt").GetInt32());
        Assert.InRange(body.GetProperty("publishedAt").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-2), DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task SeedTestCallbackAnswersOk()
    {
        var response = await system.Api.PostAsync("/_test/callback", new StringContent("""{"hello":"world"}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"ok":true}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task TwoHundredMessagesToTenUsersArriveOnceEachAndInOrderPerUser()
    {
        const int users = 10, perUser = 20;
        var sent = new Dictionary<string, List<string>>();
        await Task.WhenAll(Enumerable.Range(0, users).Select(async u =>
        {
            var userId = $"order-{u}";
            var ids = new List<string>();
            lock (sent)
            {
                sent[userId] = ids;
            }

            // Each user's messages are sent one after the other: publish order is the confirmed order.
            for (var seq = 0; seq < perUser; seq++)
            {
                var response = await system.Api.PostAsJsonAsync("/send-message", new
                {
                    userId,
                    callbackUrl = system.Sink.UrlFor($"order/{userId}"),
                    payload = new { seq },
                });
                response.EnsureSuccessStatusCode();
                ids.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString()!);
            }
        }));

        var received = await system.Sink.WaitForAsync("order/", c => c.Count >= users * perUser, DeliveryTimeout);

        Assert.Equal(users * perUser, received.Count);
        Assert.Equal(received.Count, received.Select(r => r.Headers["webhook-id"]).Distinct().Count());
        foreach (var (userId, ids) in sent)
        {
            var arrived = received.Where(r => r.Json.GetProperty("userId").GetString() == userId).ToList();
            Assert.Equal(ids, arrived.Select(r => r.Headers["webhook-id"]));
            Assert.Equal(Enumerable.Range(0, perUser), arrived.Select(r => r.Json.GetProperty("payload").GetProperty("seq").GetInt32()));
        }
    }

    [Fact]
    public async Task AQueueCreatedAfterTheWorkerStartedIsConsumedAndServed()
    {
        var created = await system.Api.PostAsJsonAsync("/create-queue", new { userId = "late-1" });
        created.EnsureSuccessStatusCode();

        // The control command reaches the running worker: it consumes the new queue.
        await Eventually.WaitAsync(
            async () => (await system.Broker.InspectAsync("queue.user.late-1"))?.ConsumerCount ?? 0,
            consumers => consumers == 1, TimeSpan.FromSeconds(10), "a consumer on queue.user.late-1");

        var sent = await system.Api.PostAsJsonAsync("/send-message", new { userId = "late-1", callbackUrl = system.Sink.UrlFor("late-1"), payload = 1 });
        sent.EnsureSuccessStatusCode();
        Assert.Single(await system.Sink.WaitForAsync("late-1", c => c.Count >= 1, DeliveryTimeout));
    }

    [Fact]
    public async Task AFailedCallbackIsDeadLetteredWithItsReasonNotLost()
    {
        var response = await system.Api.PostAsJsonAsync("/send-message", new
        {
            userId = "dead-1",
            callbackUrl = system.Sink.UrlFor("status/410/dead-1"),
            payload = new { keep = "me" },
        });
        var messageId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString();

        await system.Sink.WaitForAsync("status/410/dead-1", c => c.Count >= 1, DeliveryTimeout);
        var deadLetters = await Eventually.WaitAsync(
            () => system.Broker.TakeDeadLettersAsync("dead-1"), letters => letters.Count > 0, TimeSpan.FromSeconds(10), "a dead letter for dead-1");

        var (properties, body) = Assert.Single(deadLetters);
        Assert.Equal(messageId, properties.MessageId);
        Assert.Equal("""{"keep":"me"}""", body);
        Assert.Equal(410L, UserQueues.Messaging.UserMessage.HeaderLong(properties.Headers, "x-last-status"));
        Assert.Contains("410", UserQueues.Messaging.UserMessage.HeaderString(properties.Headers, "x-dead-letter-reason"));
        Assert.Equal(0u, (await system.Broker.InspectAsync("queue.user.dead-1"))!.MessageCount);
    }
}
