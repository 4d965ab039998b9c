using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RabbitMQ.Client;
using UserQueues.Messaging;

namespace UserQueues.FunctionalTests;

/// <summary>
/// Dead letters stay browsable, replayable and purgeable, per user, through the admin API; each
/// user's are in its own queue, <c>queue.dead_letter.{userId}</c>, which exists only while it has some.
/// </summary>
[Collection(UserQueuesAppGroup.Name)]
public sealed class DeadLetterTests(UserQueuesAppFixture system)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);
    private static readonly string[] UnknownIds = ["x"];

    private Task<string> SendAsync(string userId, string path) =>
        system.SendAsync(new { userId, callbackUrl = system.Sink.UrlFor(path), payload = new { path } });

    private HttpRequestMessage Admin(HttpMethod method, string path, object? body = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Add("x-api-key", system.AdminApiKey);
        return request;
    }

    private async Task<JsonElement> ListAsync(string userId, int page = 1, int pageSize = 10)
    {
        var response = await system.Api.SendAsync(Admin(HttpMethod.Get, $"/admin/dead-letters?userId={userId}&page={page}&pageSize={pageSize}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static string[] Ids(JsonElement list) => [.. list.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("messageId").GetString()!)];

    [Fact]
    public async Task DeadLettersAreListedReplayedAndPurgedPerUserWithoutTouchingOthers()
    {
        // 410 on the first attempt of each message: dead-lettered at once; a replay is answered 200.
        var first = await SendAsync("dl-1", "flaky/1/410/dl-1/a");
        var second = await SendAsync("dl-1", "flaky/1/410/dl-1/b");
        var other = await SendAsync("dl-2", "flaky/1/410/dl-2/c");

        var list = await Eventually.WaitAsync(() => ListAsync("dl-1"), l => l.GetProperty("total").GetInt32() == 2, Deadline, "two dead letters for dl-1");
        Assert.True(list.GetProperty("complete").GetBoolean());
        Assert.Equal([first, second], Ids(list));
        var letter = list.GetProperty("items")[0];
        Assert.Equal("dl-1", letter.GetProperty("userId").GetString());
        Assert.Equal(410, letter.GetProperty("lastStatus").GetInt32());
        Assert.Equal(1, letter.GetProperty("attempts").GetInt32());
        Assert.Contains("410", letter.GetProperty("reason").GetString());
        Assert.Contains("dl-1/a", letter.GetProperty("payload").GetString());
        Assert.Equal([second], Ids(await ListAsync("dl-1", page: 2, pageSize: 1)));

        var replay = await system.Api.SendAsync(Admin(HttpMethod.Post, "/admin/dead-letters/replay", new { userId = "dl-1", messageIds = new[] { first } }));
        Assert.Equal(1, (await replay.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt32());
        var replayed = await system.Sink.WaitForAsync("flaky/1/410/dl-1/a", c => c.Any(r => r.AnsweredStatus == 200), Deadline);
        Assert.All(replayed, r => Assert.Equal(first, r.Headers["webhook-id"]));

        Assert.Equal([second], Ids(await ListAsync("dl-1")));
        var purge = await system.Api.SendAsync(Admin(HttpMethod.Post, "/admin/dead-letters/purge", new { userId = "dl-1" }));
        Assert.Equal(1, (await purge.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt32());
        Assert.Equal(0, (await ListAsync("dl-1")).GetProperty("total").GetInt32());

        // The other user's dead letter was given back each time, untouched.
        Assert.Equal([other], Ids(await ListAsync("dl-2")));
        (await system.Api.SendAsync(Admin(HttpMethod.Post, "/admin/dead-letters/purge", new { userId = "dl-2" }))).EnsureSuccessStatusCode();

        var audit = await (await system.Api.SendAsync(Admin(HttpMethod.Get, "/admin/audit?pageSize=50"))).Content.ReadAsStringAsync();
        Assert.Contains("replay-dead-letters", audit);
        Assert.Contains("purge-dead-letters", audit);
    }

    [Fact]
    public async Task AUsersFirstDeadLetterDeclaresItsQueueAndAPurgeRemovesIt()
    {
        (await system.Api.PostAsJsonAsync("/create-queue", new { userId = "dl-own" })).EnsureSuccessStatusCode();
        await SendAsync("dl-own", "dl-own/ok");
        await system.Sink.WaitForAsync("dl-own/ok", c => c.Count >= 1, Deadline);
        // Delivered only: no dead-letter queue, no broker object for this user's dead letters.
        Assert.Null(await system.Broker.InspectAsync(Topology.DeadLetterQueueName("dl-own")));
        Assert.Equal(0, (await ListAsync("dl-own")).GetProperty("total").GetInt32());

        var dead = await SendAsync("dl-own", "status/404/dl-own/gone");
        var queue = await Eventually.WaitAsync(() => system.Broker.InspectAsync(Topology.DeadLetterQueueName("dl-own")),
            q => q?.MessageCount == 1, Deadline, "queue.dead_letter.dl-own with one dead letter");
        Assert.Equal(0u, queue!.ConsumerCount);
        Assert.Empty((await system.Broker.QueueArgumentsAsync(Topology.DeadLetterQueueName("dl-own"))).EnumerateObject());
        Assert.Equal([dead], Ids(await ListAsync("dl-own")));

        var purge = await system.Api.SendAsync(Admin(HttpMethod.Post, "/admin/dead-letters/purge", new { userId = "dl-own" }));
        Assert.Equal(1, (await purge.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt32());
        Assert.Null(await system.Broker.InspectAsync(Topology.DeadLetterQueueName("dl-own")));

        // The next dead letter declares it again.
        var again = await SendAsync("dl-own", "status/404/dl-own/again");
        var list = await Eventually.WaitAsync(() => ListAsync("dl-own"), l => l.GetProperty("total").GetInt32() == 1, Deadline, "the dead letter after the purge");
        Assert.Equal([again], Ids(list));
        (await system.Api.SendAsync(Admin(HttpMethod.Post, "/admin/dead-letters/purge", new { userId = "dl-own" }))).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task DeadLettersLeftInTheSharedQueueByEarlierVersionsAreMovedToTheirUsersAtWorkerStartInOrder()
    {
        await system.WaitForWorkersAsync(1);
        await system.ExecuteOnWorkerAsync(KnownResourceCommands.StopCommand);
        await system.WaitForWorkersAsync(0);

        // What a version with the one shared queue left behind: letters of two users, and one that
        // names no user at all (it must stay where it is, never be dropped).
        var legacy = new[] { ("legacy-1", "a"), ("legacy-2", "b"), ("legacy-1", "c") }
            .Select(l => new UserMessage(Guid.NewGuid().ToString(), l.Item1, system.Sink.UrlFor($"legacy/{l.Item1}/{l.Item2}"), Encoding.UTF8.GetBytes($"\"{l.Item2}\""), DateTimeOffset.UtcNow))
            .ToList();
        var orphanId = Guid.NewGuid().ToString();
        await PublishOrphanToInboxAsync(orphanId);
        foreach (var message in legacy)
        {
            await system.Broker.PublishLegacyDeadLetterAsync(message, "gave up (an earlier version)");
        }

        // No worker: nothing moves, and the API does not see them yet.
        await Consistently.HoldsAsync(() => system.Broker.InspectAsync(Topology.DeadLetterQueue), q => q?.MessageCount == 4, TimeSpan.FromSeconds(2), "the inbox keeps its four letters");

        await system.ExecuteOnWorkerAsync(KnownResourceCommands.StartCommand);
        var first = await Eventually.WaitAsync(() => ListAsync("legacy-1"), l => l.GetProperty("total").GetInt32() == 2, Deadline, "legacy-1's two letters moved");
        Assert.Equal([legacy[0].MessageId, legacy[2].MessageId], Ids(first));
        Assert.Equal("gave up (an earlier version)", first.GetProperty("items")[0].GetProperty("reason").GetString());
        Assert.Equal([legacy[1].MessageId], Ids(await Eventually.WaitAsync(() => ListAsync("legacy-2"), l => l.GetProperty("total").GetInt32() == 1, Deadline, "legacy-2's letter moved")));

        // The orphan is back in the inbox once the pass that looked at it has let go of it.
        await Eventually.WaitAsync(() => system.Broker.InspectAsync(Topology.DeadLetterQueue), q => q?.MessageCount == 1, Deadline, "only the orphan left in the inbox");
        await TakeOrphanAsync(orphanId);

        // A moved letter replays like any other.
        var replay = await system.Api.SendAsync(Admin(HttpMethod.Post, "/admin/dead-letters/replay", new { userId = "legacy-1" }));
        Assert.Equal(2, (await replay.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt32());
        Assert.Equal(legacy[0].MessageId, Assert.Single(await system.Sink.WaitForAsync("legacy/legacy-1/a", c => c.Count >= 1, Deadline)).Headers["webhook-id"]);
        Assert.Single(await system.Sink.WaitForAsync("legacy/legacy-1/c", c => c.Count >= 1, Deadline));
        Assert.Equal(0, (await ListAsync("legacy-1")).GetProperty("total").GetInt32());
        (await system.Api.SendAsync(Admin(HttpMethod.Post, "/admin/dead-letters/purge", new { userId = "legacy-2" }))).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task ADeliveryTheWorkerRejectedReachesItsUsersDeadLettersThroughTheInbox()
    {
        (await system.Api.PostAsJsonAsync("/create-queue", new { userId = "dl-reject" })).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(async () => (await system.Broker.InspectAsync(Topology.QueueName("dl-reject")))?.ConsumerCount ?? 0,
            n => n == 1, Deadline, "a consumer on queue.user.dl-reject");

        // Not a UserQueues message (no x-user-id, no callback URL): the worker rejects it and the
        // broker dead-letters it to the shared inbox, whence the worker moves it to dl-reject's queue
        // by the queue it came from (x-first-death-queue).
        var id = Guid.NewGuid().ToString();
        await using (var connection = await ConnectAsync())
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            await channel.BasicPublishAsync(Topology.UserExchange, Topology.RoutingKey("dl-reject"), mandatory: true,
                new BasicProperties { MessageId = id, DeliveryMode = DeliveryModes.Persistent }, "not ours"u8.ToArray());
        }

        var list = await Eventually.WaitAsync(() => ListAsync("dl-reject"), l => l.GetProperty("total").GetInt32() == 1, Deadline, "the rejected delivery in dl-reject's dead letters");
        var letter = list.GetProperty("items")[0];
        Assert.Equal(id, letter.GetProperty("messageId").GetString());
        Assert.StartsWith("unreadable", letter.GetProperty("reason").GetString());
        Assert.Equal("not ours", letter.GetProperty("payload").GetString());

        // It cannot be sent anywhere: a replay skips it and it stays until purged.
        var replay = await system.Api.SendAsync(Admin(HttpMethod.Post, "/admin/dead-letters/replay", new { userId = "dl-reject" }));
        Assert.Equal(0, (await replay.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt32());
        Assert.Equal([id], Ids(await ListAsync("dl-reject")));
        var purge = await system.Api.SendAsync(Admin(HttpMethod.Post, "/admin/dead-letters/purge", new { userId = "dl-reject" }));
        Assert.Equal(1, (await purge.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt32());
    }

    [Fact]
    public async Task ADeadLetterQueueThatHoldsMessagesOutlivesItsUsersExpiredQueue()
    {
        (await system.Api.PostAsJsonAsync("/create-queue", new { userId = "dl-expire", ttlMs = 1000 })).EnsureSuccessStatusCode();
        var dead = await SendAsync("dl-expire", "flaky/1/410/dl-expire");
        await Eventually.WaitAsync(() => system.Broker.InspectAsync(Topology.DeadLetterQueueName("dl-expire")), q => q?.MessageCount == 1, Deadline, "the dead letter of dl-expire");

        await Eventually.WaitAsync(() => system.Broker.InspectAsync(Topology.QueueName("dl-expire")), q => q is null, Deadline, "queue.user.dl-expire expired");
        await Eventually.WaitAsync(() => system.Registry.FindAsync("dl-expire", CancellationToken.None), r => r is null, Deadline, "dl-expire gone from the registry");
        // The janitor runs every second: several rounds, and the dead letter is still there.
        await Consistently.HoldsAsync(() => system.Broker.InspectAsync(Topology.DeadLetterQueueName("dl-expire")), q => q?.MessageCount == 1,
            TimeSpan.FromSeconds(3), "the dead-letter queue of an expired user keeps its message");

        Assert.Equal([dead], Ids(await ListAsync("dl-expire")));
        var replay = await system.Api.SendAsync(Admin(HttpMethod.Post, "/admin/dead-letters/replay", new { userId = "dl-expire" }));
        Assert.Equal(1, (await replay.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt32());
        var delivered = await system.Sink.WaitForAsync("flaky/1/410/dl-expire", c => c.Any(r => r.AnsweredStatus == 200), Deadline);
        Assert.All(delivered, r => Assert.Equal(dead, r.Headers["webhook-id"]));
    }

    private async Task<IConnection> ConnectAsync() =>
        await new ConnectionFactory { Uri = new Uri((await system.App.GetConnectionStringAsync("messaging"))!) }.CreateConnectionAsync();

    private async Task PublishOrphanToInboxAsync(string messageId)
    {
        await using var connection = await ConnectAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await channel.BasicPublishAsync(Topology.DeadLetterExchange, Topology.DeadLetterRoutingKey, mandatory: true,
            new BasicProperties { MessageId = messageId, DeliveryMode = DeliveryModes.Persistent }, "orphan"u8.ToArray());
    }

    private async Task TakeOrphanAsync(string messageId)
    {
        await using var connection = await ConnectAsync();
        await using var channel = await connection.CreateChannelAsync();
        // A sorting pass may hold it for a moment; it comes back when the pass closes its channel.
        var orphan = await Eventually.WaitAsync(() => channel.BasicGetAsync(Topology.DeadLetterQueue, autoAck: true), r => r is not null, Deadline, "the orphan");
        Assert.Equal(messageId, orphan!.BasicProperties.MessageId);
    }

    [Fact]
    public async Task DeadLetterEndpointsNeedTheAdminKeyAndValidInput()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await system.Api.GetAsync("/admin/dead-letters?userId=dl-1")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await system.Api.SendAsync(Admin(HttpMethod.Get, "/admin/dead-letters?userId=bad%20id"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await system.Api.SendAsync(Admin(HttpMethod.Get, "/admin/dead-letters?userId=dl-1&pageSize=0"))).StatusCode);
        var purgeWithIds = await system.Api.SendAsync(Admin(HttpMethod.Post, "/admin/dead-letters/purge", new { userId = "dl-1", messageIds = UnknownIds }));
        Assert.Equal(HttpStatusCode.BadRequest, purgeWithIds.StatusCode);
        Assert.Contains("messageIds", await purgeWithIds.Content.ReadAsStringAsync());
    }
}
