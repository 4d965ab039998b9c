using System.Text;
using Microsoft.Extensions.Options;
using UserQueues.Messaging;

namespace UserQueues.UnitTests;

/// <summary>The per-user dead-letter layout: names, arguments, whose letter an inbox message is, where a dead letter is published.</summary>
public class DeadLetterLayoutTests
{
    [Fact]
    public void EachUserHasItsOwnDeadLetterQueueAndRoutingKey()
    {
        Assert.Equal("queue.dead_letter.u1", Topology.DeadLetterQueueName("u1"));
        Assert.Equal("dead.u1", Topology.DeadLetterRoutingKeyOf("u1"));
        Assert.Equal("u1", Topology.UserIdOfDeadLetterQueue("queue.dead_letter.u1"));
        Assert.Equal("a.b:c", Topology.UserIdOfDeadLetterQueue(Topology.DeadLetterQueueName("a.b:c")));
        // The shared inbox is nobody's dead-letter queue, and its binding never matches a user's.
        Assert.Null(Topology.UserIdOfDeadLetterQueue(Topology.DeadLetterQueue));
        Assert.NotEqual(Topology.DeadLetterRoutingKey, Topology.DeadLetterRoutingKeyOf(""));
    }

    [Theory]
    [InlineData("u1")]
    [InlineData("user.u1")]
    [InlineData("a.b")]
    public void ADeadLetterQueueIsNeverTakenForAUserQueue(string userId)
    {
        // The admin snapshot and listings know user queues by Topology.UserIdOfQueue alone.
        Assert.Null(Topology.UserIdOfQueue(Topology.DeadLetterQueueName(userId)));
        Assert.Null(Topology.UserIdOfDeadLetterQueue(Topology.QueueName(userId)));
    }

    [Fact]
    public void DeadLetterQueuesHaveNoBrokerExpiry()
    {
        // x-expires would delete dead letters nobody looked at for a while.
        Assert.Empty(Topology.DeadLetterQueueArguments());
    }

    [Fact]
    public void AnInboxLetterBelongsToItsUserIdHeaderEvenAsBytes()
    {
        Assert.Equal("u1", DeadLetters.OwnerOf(new Dictionary<string, object?> { [MessageHeaders.UserId] = "u1" }));
        Assert.Equal("u1", DeadLetters.OwnerOf(new Dictionary<string, object?>
        {
            [MessageHeaders.UserId] = Encoding.UTF8.GetBytes("u1"),
            [MessageHeaders.FirstDeathQueue] = Encoding.UTF8.GetBytes("queue.user.other"),
        }));
    }

    [Fact]
    public void ARejectedDeliveryWithoutAUserIdBelongsToTheUserQueueItLeft()
    {
        Assert.Equal("u2", DeadLetters.OwnerOf(new Dictionary<string, object?> { [MessageHeaders.FirstDeathQueue] = Encoding.UTF8.GetBytes("queue.user.u2") }));
        // An unsafe userId header is not trusted as a queue name; the queue it came from is.
        Assert.Equal("u2", DeadLetters.OwnerOf(new Dictionary<string, object?>
        {
            [MessageHeaders.UserId] = "u 2/../x",
            [MessageHeaders.FirstDeathQueue] = "queue.user.u2",
        }));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("queue.delay_ready")]
    [InlineData("user_delay.03")]
    [InlineData("queue.user.")]
    public void AnInboxLetterThatNamesNoUserHasNoOwner(string? firstDeathQueue)
    {
        var headers = firstDeathQueue is null ? null : new Dictionary<string, object?> { [MessageHeaders.FirstDeathQueue] = firstDeathQueue };
        Assert.Null(DeadLetters.OwnerOf(headers));
    }

    [Fact]
    public async Task ADeadLetterIsPublishedToItsUsersQueueWithWhyConfirmedAndMandatory()
    {
        await using var broker = new InMemoryBroker();
        var options = Options.Create(new MessagingOptions());
        await using var channels = new BrokerChannels(broker.Connection, options);
        var publisher = new MessagePublisher(channels, options, TimeProvider.System);
        var message = new UserMessage("m1", "u3", "https://example.com/cb", "{}"u8.ToArray(), DateTimeOffset.UnixEpoch, Attempt: 5);

        await publisher.DeadLetterAsync(message, "gave up after 5 attempts", 503, CancellationToken.None);

        var published = Assert.Single(broker.Published);
        Assert.Equal(Topology.DeadLetterExchange, published.Exchange);
        Assert.Equal("dead.u3", published.RoutingKey);
        Assert.Equal("m1", published.Properties.MessageId);
        Assert.Equal("gave up after 5 attempts", UserMessage.HeaderString(published.Properties.Headers, MessageHeaders.DeadLetterReason));
        Assert.Equal(503, UserMessage.HeaderLong(published.Properties.Headers, MessageHeaders.LastStatus));
    }

    [Fact]
    public async Task AnInboxLetterIsMovedWithEveryHeaderKept()
    {
        await using var broker = new InMemoryBroker();
        var options = Options.Create(new MessagingOptions());
        await using var channels = new BrokerChannels(broker.Connection, options);
        var publisher = new MessagePublisher(channels, options, TimeProvider.System);
        var properties = new RabbitMQ.Client.BasicProperties
        {
            MessageId = "m2",
            Headers = new Dictionary<string, object?> { [MessageHeaders.FirstDeathQueue] = "queue.user.u4", ["x-death"] = new List<object?>() },
        };

        await publisher.RouteDeadLetterAsync("u4", properties, "body"u8.ToArray(), CancellationToken.None);

        var published = Assert.Single(broker.Published);
        Assert.Equal("dead.u4", published.RoutingKey);
        Assert.Equal("m2", published.Properties.MessageId);
        Assert.True(published.Properties.Headers!.ContainsKey("x-death"));
        Assert.Equal("body", Encoding.UTF8.GetString(published.Body));
        // The original's headers are not written to (the publish adds its trace context to the copy's).
        Assert.Equal(2, properties.Headers.Count);
    }
}
