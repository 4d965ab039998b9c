using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using UserQueues.Messaging;

namespace UserQueues.FunctionalTests;

/// <summary>Idle queues go away; messages never do (the fixture runs the janitor every second).</summary>
[Collection(UserQueuesAppGroup.Name)]
public sealed class ExpiryTests(UserQueuesAppFixture system)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task AnIdleEmptyQueueExpiresAndASendAfterwardsRecreatesIt()
    {
        (await system.Api.PostAsJsonAsync("/create-queue", new { userId = "expire-1", ttlMs = 1000 })).EnsureSuccessStatusCode();

        await Eventually.WaitAsync(() => system.Broker.InspectAsync("queue.user.expire-1"), q => q is null, Deadline, "queue.user.expire-1 expired");
        await Eventually.WaitAsync(() => system.Registry.FindAsync("expire-1", CancellationToken.None), r => r is null, Deadline, "expire-1 gone from the registry");

        var sent = await system.Api.PostAsJsonAsync("/send-message", new { userId = "expire-1", callbackUrl = system.Sink.UrlFor("expire-1"), payload = 1 });
        sent.EnsureSuccessStatusCode();
        var id = (await sent.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString();
        Assert.Equal(id, Assert.Single(await system.Sink.WaitForAsync("expire-1", c => c.Count >= 1, Deadline)).Headers["webhook-id"]);
        Assert.NotNull(await system.Registry.FindAsync("expire-1", CancellationToken.None));
    }

    [Fact]
    public async Task TheBrokerRefusesToDeleteAQueueThatHoldsAMessage()
    {
        (await system.Api.PostAsJsonAsync("/create-queue", new { userId = "expire-guard" })).EnsureSuccessStatusCode();
        await using var connection = await new ConnectionFactory { Uri = new Uri((await system.App.GetConnectionStringAsync("messaging"))!) }.CreateConnectionAsync();
        var options = Options.Create(new MessagingOptions());
        await using var channels = new BrokerChannels(connection, options);
        var topology = new BrokerTopology(channels);
        var publisher = new MessagePublisher(channels, options, TimeProvider.System);
        await publisher.PublishControlAsync(new ControlCommand(ControlAction.Park, "expire-guard"), CancellationToken.None);
        await Eventually.WaitAsync(async () => (await system.Broker.InspectAsync("queue.user.expire-guard"))?.ConsumerCount, n => n == 0, Deadline, "the consumer of expire-guard parked");
        await publisher.PublishAsync(new UserMessage(Guid.NewGuid().ToString(), "expire-guard", system.Sink.UrlFor("expire-guard"), "1"u8.ToArray(), DateTimeOffset.UtcNow), CancellationToken.None);

        Assert.False(await topology.DeleteUserQueueIfIdleAsync("expire-guard", CancellationToken.None));
        Assert.Equal(1u, (await system.Broker.InspectAsync("queue.user.expire-guard"))!.MessageCount);

        // Resumed, the worker delivers it.
        await publisher.PublishControlAsync(new ControlCommand(ControlAction.Subscribe, "expire-guard"), CancellationToken.None);
        Assert.Single(await system.Sink.WaitForAsync("expire-guard", c => c.Count >= 1, Deadline));
    }

    [Fact]
    public async Task AQueueAnAdminStoppedForLongerThanItsTtlKeepsItsMessages()
    {
        (await system.Api.PostAsJsonAsync("/create-queue", new { userId = "expire-stopped", ttlMs = 1000 })).EnsureSuccessStatusCode();
        var stop = new HttpRequestMessage(HttpMethod.Post, "/admin/stop-consumer") { Content = JsonContent.Create(new { userId = "expire-stopped" }) };
        stop.Headers.Add("x-api-key", system.AdminApiKey);
        (await system.Api.SendAsync(stop)).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(async () => (await system.Broker.InspectAsync("queue.user.expire-stopped"))?.ConsumerCount, n => n == 0, Deadline, "the consumer stopped");

        var ids = new List<string>();
        for (var seq = 0; seq < 2; seq++)
        {
            ids.Add(await system.SendAsync(new { userId = "expire-stopped", callbackUrl = system.Sink.UrlFor("expire-stopped"), payload = new { seq } }));
        }

        // The scenario itself, not synchronisation: three TTLs pass while the janitor runs every second.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(2u, (await system.Broker.InspectAsync("queue.user.expire-stopped"))!.MessageCount);
        Assert.NotNull(await system.Registry.FindAsync("expire-stopped", CancellationToken.None));

        var start = new HttpRequestMessage(HttpMethod.Post, "/admin/start-consumer") { Content = JsonContent.Create(new { userId = "expire-stopped" }) };
        start.Headers.Add("x-api-key", system.AdminApiKey);
        (await system.Api.SendAsync(start)).EnsureSuccessStatusCode();
        var received = await system.Sink.WaitForAsync("expire-stopped", c => c.Count >= 2, Deadline);
        Assert.Equal(ids, received.Select(r => r.Headers["webhook-id"]));
    }

    [Fact]
    public async Task MessagesWaitingLongerThanTheTtlWithNoWorkerAtAllAreAllDeliveredAfterwards()
    {
        (await system.Api.PostAsJsonAsync("/create-queue", new { userId = "expire-2", ttlMs = 1000 })).EnsureSuccessStatusCode();
        await system.WaitForWorkersAsync(1);
        await system.ExecuteOnWorkerAsync(KnownResourceCommands.StopCommand);
        await system.WaitForWorkersAsync(0);

        var ids = new List<string>();
        for (var seq = 0; seq < 3; seq++)
        {
            var sent = await system.Api.PostAsJsonAsync("/send-message", new { userId = "expire-2", callbackUrl = system.Sink.UrlFor("expire-2"), payload = new { seq } });
            sent.EnsureSuccessStatusCode();
            ids.Add((await sent.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString()!);
        }

        // The scenario itself, not synchronisation: the queue sits without any consumer for three
        // times its TTL (RabbitMQ's x-expires would have deleted it and its messages by now).
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(3u, (await system.Broker.InspectAsync("queue.user.expire-2"))!.MessageCount);

        await system.ExecuteOnWorkerAsync(KnownResourceCommands.StartCommand);
        var received = await system.Sink.WaitForAsync("expire-2", c => c.Count >= 3, Deadline);
        Assert.Equal(ids, received.Select(r => r.Headers["webhook-id"]));
    }
}
