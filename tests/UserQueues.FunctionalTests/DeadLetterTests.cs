using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using UserQueues.Messaging;

namespace UserQueues.FunctionalTests;

/// <summary>Dead letters stay browsable, replayable and purgeable, per user, on the real broker.</summary>
[Collection(UserQueuesAppGroup.Name)]
public sealed class DeadLetterTests(UserQueuesAppFixture system)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);

    private Task<string> SendAsync(string userId, string path) =>
        system.SendAsync(new { userId, callbackUrl = system.Sink.UrlFor(path), payload = new { path } });

    [Fact]
    public async Task DeadLettersAreListedReplayedAndPurgedPerUserWithoutTouchingOthers()
    {
        // 410 on the first attempt of each message: dead-lettered at once; a replay is answered 200.
        var first = await SendAsync("dl-1", "flaky/1/410/dl-1/a");
        var second = await SendAsync("dl-1", "flaky/1/410/dl-1/b");
        var other = await SendAsync("dl-2", "flaky/1/410/dl-2/c");

        await using var connection = await new ConnectionFactory { Uri = new Uri((await system.App.GetConnectionStringAsync("messaging"))!) }.CreateConnectionAsync();
        var options = Options.Create(new MessagingOptions());
        await using var channels = new BrokerChannels(connection, options);
        var topology = new BrokerTopology(channels);
        var publisher = new MessagePublisher(channels, options, TimeProvider.System);
        using var deadLetters = new DeadLetters(channels, new UserQueueProvisioner(topology, system.Registry, publisher, options, TimeProvider.System), options);

        var page = await Eventually.WaitAsync(() => deadLetters.ListAsync("dl-1", 1, 10, CancellationToken.None), p => p.Total == 2, Deadline, "two dead letters for dl-1");
        Assert.True(page.Complete);
        Assert.Equal([first, second], page.Items.Select(l => l.MessageId));
        Assert.All(page.Items, l => Assert.Equal(410, l.LastStatus));
        Assert.All(page.Items, l => Assert.Contains("410", l.Reason));
        Assert.Contains("dl-1/a", page.Items[0].Payload);
        Assert.Equal([second], (await deadLetters.ListAsync("dl-1", 2, 1, CancellationToken.None)).Items.Select(l => l.MessageId));

        Assert.Equal(1, await deadLetters.ReplayAsync("dl-1", new HashSet<string> { first }, CancellationToken.None));
        var replayed = await system.Sink.WaitForAsync("flaky/1/410/dl-1/a", c => c.Any(r => r.AnsweredStatus == 200), Deadline);
        Assert.All(replayed, r => Assert.Equal(first, r.Headers["webhook-id"]));

        Assert.Equal([second], (await deadLetters.ListAsync("dl-1", 1, 10, CancellationToken.None)).Items.Select(l => l.MessageId));
        Assert.Equal(1, await deadLetters.PurgeAsync("dl-1", CancellationToken.None));
        Assert.Equal(0, (await deadLetters.ListAsync("dl-1", 1, 10, CancellationToken.None)).Total);

        // The other user's dead letter was given back each time, untouched.
        Assert.Equal([other], (await deadLetters.ListAsync("dl-2", 1, 10, CancellationToken.None)).Items.Select(l => l.MessageId));
        Assert.Equal(1, await deadLetters.PurgeAsync("dl-2", CancellationToken.None));
    }
}
