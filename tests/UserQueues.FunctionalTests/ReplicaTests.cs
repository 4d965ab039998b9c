using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace UserQueues.FunctionalTests;

/// <summary>Two worker replicas: per-user order holds, a killed replica's users are taken over, nothing is lost.</summary>
[Collection(ReplicatedAppGroup.Name)]
public sealed class ReplicaTests(ReplicatedAppFixture system, ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task WithTwoReplicasOrderHoldsAndAKilledReplicasUsersAreTakenOverWithNothingLost()
    {
        const int users = 20, perUser = 10;
        for (var u = 0; u < users; u++)
        {
            (await system.Api.PostAsJsonAsync("/create-queue", new { userId = $"replica-{u}" })).EnsureSuccessStatusCode();
        }

        // Every queue has a consumer on each replica: one active, one waiting.
        var perConnection = await Eventually.WaitAsync(system.Broker.ActiveUserQueuesPerConnectionAsync,
            counts => counts.Sum() == users, Deadline, "an active consumer on every replica queue");
        output.WriteLine($"Active user queues per replica: {string.Join(" / ", perConnection)} of {users}");

        var sent = new ConcurrentDictionary<string, List<string>>();
        await Task.WhenAll(Enumerable.Range(0, users).Select(async u =>
        {
            var userId = $"replica-{u}";
            var ids = sent.GetOrAdd(userId, _ => []);
            for (var seq = 0; seq < perUser; seq++)
            {
                var response = await system.Api.PostAsJsonAsync("/send-message", new { userId, callbackUrl = system.Sink.UrlFor($"slow/50/replica/{userId}"), payload = new { seq } });
                response.EnsureSuccessStatusCode();
                ids.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString()!);
            }
        }));

        await system.Sink.WaitForAsync("slow/50/replica/", c => c.Count >= users * perUser / 4, Deadline);
        await system.KillWorkerAsync();

        var received = await system.Sink.WaitForAsync("slow/50/replica/",
            c => c.Select(r => r.Headers["webhook-id"]).Distinct().Count() >= users * perUser, Deadline);
        foreach (var (userId, ids) in sent)
        {
            var firstArrivals = received.Where(r => r.Json.GetProperty("userId").GetString() == userId)
                .Select(r => r.Headers["webhook-id"]).Distinct().ToList();
            Assert.Equal(ids, firstArrivals);
        }

        output.WriteLine($"Callbacks: {received.Count} for {users * perUser} messages ({received.Count - users * perUser} redelivered after the kill)");
    }
}
