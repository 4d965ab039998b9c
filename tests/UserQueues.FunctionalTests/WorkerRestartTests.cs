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
}
