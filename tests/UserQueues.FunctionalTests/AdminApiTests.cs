using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace UserQueues.FunctionalTests;

[Collection(UserQueuesAppGroup.Name)]
public sealed class AdminApiTests(UserQueuesAppFixture system) : IDisposable
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(60);

    /// <summary>A command reaches every worker within a second; the deadline leaves room for a loaded CI machine.</summary>
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(15);

    /// <summary>Longer than two reconciliations of the fixture's workers (every 2 s): none of them may undo a stop.</summary>
    private static readonly TimeSpan StaysStopped = TimeSpan.FromSeconds(5);

    private readonly HttpClient _admin = system.CreateAdminClient();

    [Fact]
    public async Task TheSeedsAdminCurlExamplesAnswerAsTheSeedSays()
    {
        await CreateQueueAsync("seed-admin-1");

        // The seed's examples, in its order (with this system's key in place of change-me).
        foreach (var (path, body) in new (string, object?)[]
        {
            ("/admin/start-consumer", new { userId = "seed-admin-1" }),
            ("/admin/stop-consumer", new { userId = "seed-admin-1" }),
            ("/admin/reset-queue", new { userId = "seed-admin-1" }),
            ("/admin/stop-all", null),
            ("/admin/reset-all", null),
        })
        {
            var answer = await PostAsync(path, body);
            Assert.True(answer.GetProperty("success").GetBoolean(), path);
        }

        var queues = await _admin.GetFromJsonAsync<JsonElement>("/admin/queues");
        Assert.True(queues.GetProperty("success").GetBoolean());
        // Other tests' queues share this system: the first page need not hold this one.
        var found = await _admin.GetFromJsonAsync<JsonElement>("/admin/queues?search=seed-admin-1");
        var mine = found.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("userId").GetString() == "seed-admin-1");
        Assert.Equal("queue.user.seed-admin-1", mine.GetProperty("queueName").GetString());
        Assert.Equal("user.seed-admin-1", mine.GetProperty("routingKey").GetString());
        Assert.Equal("stopped", mine.GetProperty("status").GetString());
        Assert.True(mine.TryGetProperty("createdAt", out _));
        Assert.True(mine.TryGetProperty("published", out _));
        Assert.True(queues.GetProperty("totals").GetProperty("queues").GetInt32() >= 1);

        var started = await PostAsync("/admin/start-all", null);
        Assert.True(started.GetProperty("success").GetBoolean());
    }

    [Fact]
    public async Task AdminEndpointsRefuseAMissingOrAWrongKeyWithProblemDetails()
    {
        await CreateQueueAsync("auth-1");
        using var anonymous = system.App.CreateHttpClient("api");
        using var wrong = system.App.CreateHttpClient("api");
        wrong.DefaultRequestHeaders.Add("x-api-key", system.AdminApiKey + "x");

        foreach (var client in new[] { anonymous, wrong })
        {
            var stop = await client.PostAsJsonAsync("/admin/stop-consumer", new { userId = "auth-1" });
            var stopAll = await client.PostAsync("/admin/stop-all", null);
            var list = await client.GetAsync("/admin/queues");
            var audit = await client.GetAsync("/admin/audit");
            foreach (var response in new[] { stop, stopAll, list, audit })
            {
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
                Assert.False(problem.GetProperty("success").GetBoolean());
                Assert.Contains("x-api-key", problem.GetProperty("detail").GetString());
            }
        }

        // Nothing was changed by the refused requests.
        Assert.Equal("running", (await QueueAsync("auth-1")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task AdminActionsOnAnUnknownUserAnswer404AndOnABadUserId400()
    {
        foreach (var path in new[] { "/admin/stop-consumer", "/admin/start-consumer", "/admin/reset-queue" })
        {
            var unknown = await _admin.PostAsJsonAsync(path, new { userId = "nobody-" + Guid.NewGuid().ToString("N") });
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            var problem = await unknown.Content.ReadFromJsonAsync<JsonElement>();
            Assert.False(problem.GetProperty("success").GetBoolean());
            Assert.Contains("/create-queue", problem.GetProperty("detail").GetString());

            var bad = await _admin.PostAsJsonAsync(path, new { userId = "../etc" });
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await _admin.GetAsync("/admin/queues/nobody-at-all")).StatusCode);
    }

    [Fact]
    public async Task AStoppedConsumerLeavesNewMessagesReadyOnTheBrokerAndStartDeliversThemInOrder()
    {
        const string user = "admin-stop-1";
        await CreateQueueAsync(user);
        await SendAsync(user, 0);
        await system.Sink.WaitForAsync(user, c => c.Count == 1, DeliveryTimeout);

        var watch = Stopwatch.StartNew();
        await PostAsync("/admin/stop-consumer", new { userId = user });
        await Eventually.WaitAsync(() => ConsumersAsync(user), n => n == 0, CommandTimeout, "the stopped queue has no consumer");
        var stoppedAfter = watch.Elapsed;

        var ids = new List<string>();
        for (var seq = 1; seq <= 3; seq++)
        {
            ids.Add(await SendAsync(user, seq));
        }

        // On the broker: the messages sit ready in the queue, nobody consumes them, also across reconciliations.
        await Consistently.HoldsAsync(
            () => system.Broker.InspectAsync(Queue(user)),
            q => q is { MessageCount: 3, ConsumerCount: 0 },
            StaysStopped, "3 ready messages and no consumer");
        Assert.Single(system.Sink.For(user));
        var listed = await QueueAsync(user);
        Assert.Equal("stopped", listed.GetProperty("status").GetString());
        Assert.Equal(3, listed.GetProperty("ready").GetInt64());
        Assert.Equal(0, listed.GetProperty("consumers").GetInt64());

        await PostAsync("/admin/start-consumer", new { userId = user });
        var received = await system.Sink.WaitForAsync(user, c => c.Count >= 4, DeliveryTimeout);
        Assert.Equal(ids, received.Skip(1).Select(r => r.Headers["webhook-id"]));
        Assert.Equal("running", (await QueueAsync(user)).GetProperty("status").GetString());
        Assert.True(stoppedAfter < CommandTimeout, $"stopped after {stoppedAfter.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task AStoppedConsumerStaysStoppedWhenTheWorkerRestarts()
    {
        const string user = "admin-restart-1";
        await CreateQueueAsync(user);
        await PostAsync("/admin/stop-consumer", new { userId = user });
        await Eventually.WaitAsync(() => ConsumersAsync(user), n => n == 0, CommandTimeout, "the stopped queue has no consumer");

        await system.ExecuteOnWorkerAsync(KnownResourceCommands.StopCommand);
        await system.WaitForWorkersAsync(0);
        await SendAsync(user, 1);
        await system.ExecuteOnWorkerAsync(KnownResourceCommands.StartCommand);
        await system.WaitForWorkersAsync(1);

        // The restarted worker read the registry: the queue stays unconsumed, its message waits.
        await Consistently.HoldsAsync(() => system.Broker.InspectAsync(Queue(user)), q => q is { MessageCount: 1, ConsumerCount: 0 },
            StaysStopped, "the stopped queue after a worker restart");
        await PostAsync("/admin/start-consumer", new { userId = user });
        await system.Sink.WaitForAsync(user, c => c.Count == 1, DeliveryTimeout);
    }

    [Fact]
    public async Task ResetQueuePurgesTheReadyMessages()
    {
        const string user = "admin-reset-1";
        await CreateQueueAsync(user);
        await PostAsync("/admin/stop-consumer", new { userId = user });
        await Eventually.WaitAsync(() => ConsumersAsync(user), n => n == 0, CommandTimeout, "the stopped queue has no consumer");
        for (var seq = 0; seq < 3; seq++)
        {
            await SendAsync(user, seq);
        }

        var reset = await PostAsync("/admin/reset-queue", new { userId = user });

        Assert.Equal(3u, reset.GetProperty("purged").GetUInt32());
        Assert.Equal(0u, (await system.Broker.InspectAsync(Queue(user)))!.MessageCount);
        await PostAsync("/admin/start-consumer", new { userId = user });
        await Eventually.WaitAsync(() => ConsumersAsync(user), n => n == 1, CommandTimeout, "the started queue has a consumer");
        Assert.Empty(system.Sink.For(user));
    }

    [Fact]
    public async Task StopAllStopsEveryConsumerAndStartAllStartsThemAgain()
    {
        string[] users = ["admin-all-1", "admin-all-2", "admin-all-3"];
        foreach (var user in users)
        {
            await CreateQueueAsync(user);
        }

        try
        {
            var stopped = await PostAsync("/admin/stop-all", null);
            Assert.True(stopped.GetProperty("queues").GetInt32() >= users.Length);
            foreach (var user in users)
            {
                await Eventually.WaitAsync(() => ConsumersAsync(user), n => n == 0, CommandTimeout, $"{user} has no consumer after stop-all");
            }

            var running = await _admin.GetFromJsonAsync<JsonElement>("/admin/queues?status=running");
            Assert.Equal(0, running.GetProperty("total").GetInt32());
            await SendAsync(users[0], 1);
            await Consistently.HoldsAsync(() => system.Broker.InspectAsync(Queue(users[0])), q => q is { MessageCount: 1, ConsumerCount: 0 },
                StaysStopped, "the message waits while everything is stopped");
        }
        finally
        {
            await PostAsync("/admin/start-all", null);
        }

        foreach (var user in users)
        {
            await Eventually.WaitAsync(() => ConsumersAsync(user), n => n == 1, CommandTimeout, $"{user} is consumed after start-all");
        }

        await system.Sink.WaitForAsync(users[0], c => c.Count == 1, DeliveryTimeout);
        var stoppedNow = await _admin.GetFromJsonAsync<JsonElement>("/admin/queues?status=stopped");
        Assert.Equal(0, stoppedNow.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task TheAuditLogListsEveryAdminActionNewestFirst()
    {
        const string user = "admin-audit-1";
        await CreateQueueAsync(user);
        var before = DateTimeOffset.UtcNow.AddSeconds(-5);
        await PostAsync("/admin/stop-consumer", new { userId = user });
        await PostAsync("/admin/reset-queue", new { userId = user });
        await PostAsync("/admin/start-consumer", new { userId = user });

        var audit = await _admin.GetFromJsonAsync<JsonElement>("/admin/audit?pageSize=500");
        var mine = audit.GetProperty("entries").EnumerateArray().Where(e => e.GetProperty("target").GetString() == user).ToList();
        Assert.Equal(["start-consumer", "reset-queue", "stop-consumer"], mine.Select(e => e.GetProperty("action").GetString()));
        Assert.All(mine, e => Assert.Equal("api-key", e.GetProperty("actor").GetString()));
        Assert.All(mine, e => Assert.True(e.GetProperty("at").GetDateTimeOffset() >= before));
        Assert.True(audit.GetProperty("total").GetInt32() >= 3);

        var paged = await _admin.GetFromJsonAsync<JsonElement>("/admin/audit?page=1&pageSize=1");
        Assert.Single(paged.GetProperty("entries").EnumerateArray());
    }

    [Fact]
    public async Task QueuesArePagedSortedSearchedAndFilteredByStatus()
    {
        string[] users = ["paging-a-1", "paging-a-2", "paging-a-3", "paging-a-4", "paging-a-5"];
        foreach (var user in users)
        {
            await CreateQueueAsync(user);
        }

        await PostAsync("/admin/stop-consumer", new { userId = "paging-a-2" });

        var second = await _admin.GetFromJsonAsync<JsonElement>("/admin/queues?search=paging-a-&pageSize=2&page=2");
        Assert.Equal(5, second.GetProperty("total").GetInt32());
        Assert.Equal(["paging-a-3", "paging-a-4"], UserIdsOf(second));

        var stopped = await _admin.GetFromJsonAsync<JsonElement>("/admin/queues?search=paging-a-&status=stopped");
        Assert.Equal(["paging-a-2"], UserIdsOf(stopped));

        var descending = await _admin.GetFromJsonAsync<JsonElement>("/admin/queues?search=paging-a-&sort=-userId&pageSize=1");
        Assert.Equal(["paging-a-5"], UserIdsOf(descending));

        // Sorting by a broker figure orders the registry's matches by the snapshot.
        var byReady = await _admin.GetFromJsonAsync<JsonElement>("/admin/queues?search=paging-a-&sort=-ready&pageSize=5");
        Assert.Equal(5, UserIdsOf(byReady).Count);

        var nothing = await _admin.GetFromJsonAsync<JsonElement>("/admin/queues?search=no-such-queue-at-all");
        Assert.Equal(0, nothing.GetProperty("total").GetInt32());

        // The broker figures of the background snapshot arrive within a few cycles.
        var withSnapshot = await Eventually.WaitAsync(
            () => _admin.GetFromJsonAsync<JsonElement>("/admin/queues?search=paging-a-1"),
            page => page.GetProperty("snapshot").GetProperty("takenAt").ValueKind == JsonValueKind.String
                    && page.GetProperty("queues")[0].GetProperty("unacked").ValueKind == JsonValueKind.Number,
            TimeSpan.FromSeconds(30), "a snapshot with the queue");
        Assert.Equal("broker", withSnapshot.GetProperty("liveFigures").GetString());
        Assert.True(withSnapshot.GetProperty("queues")[0].GetProperty("onBroker").GetBoolean());

        Assert.Equal(HttpStatusCode.BadRequest, (await _admin.GetAsync("/admin/queues?status=sleeping")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _admin.GetAsync("/admin/queues?sort=colour")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _admin.GetAsync("/admin/queues?pageSize=100000")).StatusCode);
        await PostAsync("/admin/start-consumer", new { userId = "paging-a-2" });
    }

    [Fact]
    public async Task AStoppedQueueDeletedBehindUserQueuesBackBreaksNoOtherUsersDeliveries()
    {
        // start-all has the workers consume the queues they stopped without asking the broker
        // first (start-consumer declares the queue again itself). If a queue went away meanwhile
        // (deleted on the broker by hand), that consume closes the worker's channel with the
        // consumers of other users on it: they must come back by themselves, and the deleted
        // user's next message must be delivered too.
        var run = Guid.NewGuid().ToString("N")[..8];
        var gone = $"gone-{run}";
        var others = Enumerable.Range(0, 16).Select(i => $"bystander-{run}-{i}").ToArray();
        foreach (var user in others.Prepend(gone))
        {
            await CreateQueueAsync(user);
        }

        await PostAsync("/admin/stop-consumer", new { userId = gone });
        await Eventually.WaitAsync(() => ConsumersAsync(gone), n => n == 0, CommandTimeout, $"{gone} is no longer consumed");
        await system.Broker.DeleteQueueAsync(Queue(gone));
        await PostAsync("/admin/start-all", null);

        foreach (var user in others)
        {
            await Eventually.WaitAsync(() => ConsumersAsync(user), n => n == 1, DeliveryTimeout, $"{user} is consumed again");
            await SendAsync(user, 1);
        }

        await SendAsync(gone, 1); // the API declares the queue again (the broker returned the publish)
        foreach (var user in others.Prepend(gone))
        {
            await system.Sink.WaitForAsync(user, received => received.Count >= 1, DeliveryTimeout);
        }
    }

    private static string Queue(string user) => "queue.user." + user;

    private static List<string?> UserIdsOf(JsonElement page) =>
        [.. page.GetProperty("queues").EnumerateArray().Select(q => q.GetProperty("userId").GetString())];

    private async Task<long> ConsumersAsync(string user) => (await system.Broker.InspectAsync(Queue(user))) is { } queue ? queue.ConsumerCount : -1;

    private async Task<JsonElement> QueueAsync(string user) =>
        (await _admin.GetFromJsonAsync<JsonElement>($"/admin/queues/{user}")).GetProperty("queue");

    private async Task CreateQueueAsync(string user)
    {
        var response = await system.Api.PostAsJsonAsync("/create-queue", new { userId = user });
        response.EnsureSuccessStatusCode();
        await Eventually.WaitAsync(() => ConsumersAsync(user), n => n == 1, CommandTimeout, $"{user} is consumed");
    }

    private async Task<string> SendAsync(string user, int seq)
    {
        var response = await system.Api.PostAsJsonAsync("/send-message", new { userId = user, callbackUrl = system.Sink.UrlFor(user), payload = new { seq } });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString()!;
    }

    private async Task<JsonElement> PostAsync(string path, object? body)
    {
        var response = body is null ? await _admin.PostAsync(path, null) : await _admin.PostAsJsonAsync(path, body);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public void Dispose() => _admin.Dispose();
}
