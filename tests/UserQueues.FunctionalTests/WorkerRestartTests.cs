using System.Net.Http.Json;
using System.Text.Json;

namespace UserQueues.FunctionalTests;

[Collection(UserQueuesAppGroup.Name)]
public sealed class WorkerRestartTests(UserQueuesAppFixture system)
{
    [Fact]
    public async Task ARestartedWorkerServesTheRegistrysQueuesAndLosesNothing()
    {
        var created = await system.Api.PostAsJsonAsync("/create-queue", new { userId = "restart-1" });
        created.EnsureSuccessStatusCode();
        await system.WaitForWorkersAsync(1);

        await system.ExecuteOnWorkerAsync(KnownResourceCommands.StopCommand);
        await system.WaitForWorkersAsync(0);

        var ids = new List<string>();
        for (var seq = 0; seq < 5; seq++)
        {
            var response = await system.Api.PostAsJsonAsync("/send-message", new { userId = "restart-1", callbackUrl = system.Sink.UrlFor("restart-1"), payload = new { seq } });
            response.EnsureSuccessStatusCode();
            ids.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString()!);
        }

        // With no worker the messages wait in the user's queue.
        var waiting = await system.Broker.InspectAsync("queue.user.restart-1");
        Assert.Equal(5u, waiting!.MessageCount);
        Assert.Empty(system.Sink.For("restart-1"));

        await system.ExecuteOnWorkerAsync(KnownResourceCommands.StartCommand);

        var received = await system.Sink.WaitForAsync("restart-1", c => c.Count >= 5, TimeSpan.FromSeconds(60));
        Assert.Equal(ids, received.Select(r => r.Headers["webhook-id"]));
    }

    [Fact]
    public async Task ARestartedWorkerServesEveryUserEvenWhenTheRegistryListsAQueueGoneFromTheBroker()
    {
        // A starting worker consumes the registry's running queues without asking the broker first
        // whether each one exists. A queue deleted behind the registry's back makes that consume
        // close the worker's channel, with the consumers of other users subscribed on it before
        // (120 users over 8 channels, in random order: about 15 share its channel, and that
        // consume comes first on it with a chance of about 1 in 16). They must come back by
        // themselves: their waiting messages and their next ones are delivered, the deleted user's next one too.
        var run = Guid.NewGuid().ToString("N")[..8];
        var gone = $"restart-gone-{run}";
        var others = Enumerable.Range(0, 120).Select(i => $"restart-other-{run}-{i}").ToArray();
        foreach (var user in others.Prepend(gone))
        {
            (await system.Api.PostAsJsonAsync("/create-queue", new { userId = user })).EnsureSuccessStatusCode();
        }

        await system.ExecuteOnWorkerAsync(KnownResourceCommands.StopCommand);
        await system.WaitForWorkersAsync(0);
        await system.Broker.DeleteQueueAsync("queue.user." + gone);
        foreach (var user in others)
        {
            await system.SendAsync(new { userId = user, callbackUrl = system.Sink.UrlFor(user), payload = new { user } });
        }

        await system.ExecuteOnWorkerAsync(KnownResourceCommands.StartCommand);

        // Each is consumed again (the broker counts the consumers: one on a closed channel is gone),
        // and its next message is delivered as well as the one that waited.
        foreach (var user in others)
        {
            await Eventually.WaitAsync(async () => (await system.Broker.InspectAsync("queue.user." + user))?.ConsumerCount, n => n == 1,
                TimeSpan.FromSeconds(60), $"{user} is consumed again");
            await system.SendAsync(new { userId = user, callbackUrl = system.Sink.UrlFor(user), payload = new { user } });
        }

        foreach (var user in others)
        {
            await system.Sink.WaitForAsync(user, c => c.Count >= 2, TimeSpan.FromSeconds(60));
        }

        // The path under test was taken: the consume without looking first closed a channel.
        var workerLog = await File.ReadAllTextAsync(Path.Combine(UserQueuesAppFixture.ResourceLogDirectory, "worker.log"));
        Assert.Contains($"no queue 'queue.user.{gone}'", workerLog, StringComparison.Ordinal);

        await system.SendAsync(new { userId = gone, callbackUrl = system.Sink.UrlFor(gone), payload = new { user = gone } });
        await system.Sink.WaitForAsync(gone, c => c.Count >= 1, TimeSpan.FromSeconds(60));
    }
}
