using System.Net.Http.Json;
using System.Text.Json;
using UserQueues.Messaging;

namespace UserQueues.FunctionalTests;

/// <summary>Delays, retries, ordering modes and dead letters against the real broker (the fixture caps backoff at 1 s).</summary>
[Collection(UserQueuesAppGroup.Name)]
public sealed class DeliveryGuaranteeTests(UserQueuesAppFixture system)
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task ADelayedMessageArrivesNoSoonerThanItsDelayThroughTheDelayLevels()
    {
        var sentAt = DateTimeOffset.UtcNow;
        var messageId = await system.SendAsync(new { userId = "delay-1", callbackUrl = system.Sink.UrlFor("delay-1"), payload = 1, delaySeconds = 3 });

        var callback = Assert.Single(await system.Sink.WaitForAsync("delay-1", c => c.Count >= 1, DeliveryTimeout));

        Assert.Equal(messageId, callback.Headers["webhook-id"]);
        // Lower bound only: the message waited in the levels for 2 s + 1 s before it was forwarded.
        Assert.True(callback.ReceivedAt - sentAt >= TimeSpan.FromSeconds(2.9), $"arrived after {(callback.ReceivedAt - sentAt).TotalSeconds} s");
        Assert.Equal(1, callback.Json.GetProperty("attempt").GetInt32());
    }

    [Fact]
    public async Task AFailingCallbackIsRetriedWithTheSameWebhookIdUntilItSucceeds()
    {
        var messageId = await system.SendAsync(new { userId = "retry-1", callbackUrl = system.Sink.UrlFor("flaky/2/503/retry-1"), payload = new { n = 1 } });

        var callbacks = await system.Sink.WaitForAsync("flaky/2/503/retry-1", c => c.Any(r => r.AnsweredStatus == 200), DeliveryTimeout);

        Assert.Equal([503, 503, 200], callbacks.Select(c => c.AnsweredStatus));
        Assert.All(callbacks, c => Assert.Equal(messageId, c.Headers["webhook-id"]));
        Assert.Equal([1, 2, 3], callbacks.Select(c => c.Json.GetProperty("attempt").GetInt32()));
        Assert.All(callbacks, c => Assert.Equal("""{"n":1}""", c.Json.GetProperty("payload").GetRawText()));
    }

    [Fact]
    public async Task RetryAfterFromTheReceiverIsHonoured()
    {
        await system.SendAsync(new { userId = "retry-after-1", callbackUrl = system.Sink.UrlFor("flaky/1/429/retry-after-1"), payload = 1 });

        var callbacks = await system.Sink.WaitForAsync("flaky/1/429/retry-after-1", c => c.Count >= 2, DeliveryTimeout);

        // The backoff alone would be 1 s here; the receiver asked for 2 s.
        var gap = callbacks[1].ReceivedAt - callbacks[0].ReceivedAt;
        Assert.True(gap >= TimeSpan.FromSeconds(1.9), $"retried after {gap.TotalSeconds} s");
    }

    [Fact]
    public async Task AMessageThatKeepsFailingIsDeadLetteredAfterFiveAttemptsWithWhy()
    {
        var messageId = await system.SendAsync(new { userId = "exhaust-1", callbackUrl = system.Sink.UrlFor("status/503/exhaust-1"), payload = new { keep = true } });

        var letters = await Eventually.WaitAsync(() => system.Broker.TakeDeadLettersAsync("exhaust-1"), l => l.Count > 0, DeliveryTimeout, "a dead letter for exhaust-1");

        var (properties, body) = Assert.Single(letters);
        Assert.Equal(messageId, properties.MessageId);
        Assert.Equal("""{"keep":true}""", body);
        Assert.Equal(5L, UserMessage.HeaderLong(properties.Headers, MessageHeaders.Attempt));
        Assert.Equal(503L, UserMessage.HeaderLong(properties.Headers, MessageHeaders.LastStatus));
        Assert.Contains("gave up after 5 attempts", UserMessage.HeaderString(properties.Headers, MessageHeaders.DeadLetterReason));
        Assert.NotNull(UserMessage.HeaderLong(properties.Headers, MessageHeaders.DeadLetteredAt));
        Assert.Equal(5, system.Sink.For("status/503/exhaust-1").Count);
    }

    [Fact]
    public async Task APermanentFailureIsDeadLetteredAtOnceWithoutRetry()
    {
        await system.SendAsync(new { userId = "permanent-1", callbackUrl = system.Sink.UrlFor("status/404/permanent-1"), payload = 1 });

        var letters = await Eventually.WaitAsync(() => system.Broker.TakeDeadLettersAsync("permanent-1"), l => l.Count > 0, DeliveryTimeout, "a dead letter for permanent-1");

        Assert.Contains("404", UserMessage.HeaderString(Assert.Single(letters).Properties.Headers, MessageHeaders.DeadLetterReason));
        Assert.Single(system.Sink.For("status/404/permanent-1"));
    }

    [Fact]
    public async Task WithDefaultOrderingALaterMessageOvertakesOneBeingRetried()
    {
        await system.SendAsync(new { userId = "overtake-1", callbackUrl = system.Sink.UrlFor("flaky/1/503/overtake-1/a"), payload = "a" });
        await system.SendAsync(new { userId = "overtake-1", callbackUrl = system.Sink.UrlFor("flaky/1/503/overtake-1/b"), payload = "b" });
        var ok = await system.SendAsync(new { userId = "overtake-1", callbackUrl = system.Sink.UrlFor("overtake-1/c"), payload = "c" });

        await system.Sink.WaitForAsync("flaky/1/503/overtake-1", c => c.Count(r => r.AnsweredStatus == 200) == 2, DeliveryTimeout);
        var c = Assert.Single(system.Sink.For("overtake-1/c"));
        var retriedA = system.Sink.For("flaky/1/503/overtake-1/a").Single(r => r.AnsweredStatus == 200);

        Assert.Equal(ok, c.Headers["webhook-id"]);
        Assert.True(c.Sequence < retriedA.Sequence, "the third message was delivered before the retried first one");
    }

    [Fact]
    public async Task WithStrictOrderingTheUsersQueueWaitsForItsHeadAndOtherUsersGoOn()
    {
        var created = await system.Api.PostAsJsonAsync("/create-queue", new { userId = "strict-1", ordering = "strict" });
        created.EnsureSuccessStatusCode();
        await Eventually.WaitAsync(async () => (await system.Broker.InspectAsync("queue.user.strict-1"))?.ConsumerCount ?? 0, n => n == 1,
            TimeSpan.FromSeconds(20), "a consumer on queue.user.strict-1");

        var first = await system.SendAsync(new { userId = "strict-1", callbackUrl = system.Sink.UrlFor("flaky/2/503/strict-1"), payload = 1 });
        var second = await system.SendAsync(new { userId = "strict-1", callbackUrl = system.Sink.UrlFor("strict-1-next"), payload = 2 });
        var elsewhere = await system.SendAsync(new { userId = "strict-other", callbackUrl = system.Sink.UrlFor("strict-other"), payload = 3 });

        var next = Assert.Single(await system.Sink.WaitForAsync("strict-1-next", c => c.Count >= 1, DeliveryTimeout));
        var callbacks = system.Sink.For("flaky/2/503/strict-1");

        Assert.Equal([503, 503, 200], callbacks.Select(c => c.AnsweredStatus));
        Assert.All(callbacks, c => Assert.Equal(first, c.Headers["webhook-id"]));
        Assert.Equal([1, 2, 3], callbacks.Select(c => c.Json.GetProperty("attempt").GetInt32()));
        Assert.Equal(second, next.Headers["webhook-id"]);
        Assert.True(next.Sequence > callbacks[2].Sequence, "the second message waited for the first one's success");
        var other = Assert.Single(system.Sink.For("strict-other"));
        Assert.Equal(elsewhere, other.Headers["webhook-id"]);
        Assert.True(other.Sequence < callbacks[2].Sequence, "another user's message was not held up by strict-1's retries");
    }
}
