using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;

namespace UserQueues.FunctionalTests;

/// <summary>Faults that must never lose a message: a killed worker, a restarted broker, a receiver that is down.</summary>
[Collection(UserQueuesAppGroup.Name)]
public sealed class FaultTests(UserQueuesAppFixture system)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task AWorkerKilledMidStreamLosesNothingAndKeepsFirstArrivalsInOrder()
    {
        const int users = 5, perUser = 20;
        var sent = new ConcurrentDictionary<string, List<string>>();
        await Task.WhenAll(Enumerable.Range(0, users).Select(async u =>
        {
            var userId = $"kill-{u}";
            var ids = sent.GetOrAdd(userId, _ => []);
            for (var seq = 0; seq < perUser; seq++)
            {
                ids.Add(await system.SendAsync(new { userId, callbackUrl = system.Sink.UrlFor($"slow/100/kill/{userId}"), payload = new { seq } }));
            }
        }));

        await system.Sink.WaitForAsync("slow/100/kill/", c => c.Count >= 15, Deadline);
        await system.KillWorkerAsync();
        var beforeRestart = system.Sink.For("slow/100/kill/").Count;
        Assert.True(beforeRestart < users * perUser, "the stream was still going when the worker was killed");

        await system.ExecuteOnWorkerAsync(KnownResourceCommands.StartCommand);
        var received = await system.Sink.WaitForAsync("slow/100/kill/",
            c => c.Select(r => r.Headers["webhook-id"]).Distinct().Count() >= users * perUser, Deadline);

        foreach (var (userId, ids) in sent)
        {
            var firstArrivals = received.Where(r => r.Json.GetProperty("userId").GetString() == userId)
                .Select(r => r.Headers["webhook-id"]).Distinct().ToList();
            Assert.Equal(ids, firstArrivals);
        }
    }

    [Fact]
    public async Task ABrokerRestartAnswers503WhileDownAndLosesNothingConfirmedIncludingDelayedMessages()
    {
        var delayed = await system.SendAsync(new { userId = "chaos-delay", callbackUrl = system.Sink.UrlFor("chaos-delay"), payload = 1, delaySeconds = 4 });
        var confirmed = new ConcurrentBag<string>();
        var refused = 0;
        var longest = TimeSpan.Zero;
        using var stop = new CancellationTokenSource();

        var producer = Task.Run(async () =>
        {
            for (var seq = 0; !stop.IsCancellationRequested && seq < 10_000; seq++)
            {
                var watch = Stopwatch.StartNew();
                HttpResponseMessage response;
                try
                {
                    response = await system.Api.PostAsJsonAsync("/send-message", new { userId = "chaos-broker", callbackUrl = system.Sink.UrlFor("chaos-broker"), payload = new { seq } });
                }
                catch (HttpRequestException)
                {
                    continue; // the test's own client gave up; nothing was confirmed
                }

                longest = watch.Elapsed > longest ? watch.Elapsed : longest;
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    confirmed.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString()!);
                }
                else if (response.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    // The fixture's per-user rate limit: back off as Retry-After says.
                    await Task.Delay(TimeSpan.FromSeconds(int.Parse(response.Headers.RetryAfter!.ToString(), System.Globalization.CultureInfo.InvariantCulture)));
                }
                else
                {
                    Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                    Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                    Interlocked.Increment(ref refused);
                    await Task.Delay(100); // a producer backing off, as Retry-After asks
                }
            }
        });

        await Eventually.WaitAsync(() => Task.FromResult(confirmed.Count), n => n >= 5, Deadline, "messages confirmed before the restart");
        await system.ExecuteOnBrokerAsync(KnownResourceCommands.StopCommand);
        await Eventually.WaitAsync(() => Task.FromResult(Volatile.Read(ref refused)), n => n >= 1, Deadline, "a 503 while the broker is down");
        await system.ExecuteOnBrokerAsync(KnownResourceCommands.StartCommand);
        await system.App.ResourceNotifications.WaitForResourceHealthyAsync("messaging").WaitAsync(Deadline);
        var afterRestart = confirmed.Count;
        await Eventually.WaitAsync(() => Task.FromResult(confirmed.Count), n => n >= afterRestart + 5, Deadline, "the API confirming again after the restart");
        await stop.CancelAsync();
        await producer;

        var ids = confirmed.ToHashSet();
        var received = await system.Sink.WaitForAsync("chaos-broker", c => ids.IsSubsetOf(c.Select(r => r.Headers["webhook-id"])), Deadline);
        Assert.Contains(delayed, (await system.Sink.WaitForAsync("chaos-delay", c => c.Count >= 1, Deadline)).Select(r => r.Headers["webhook-id"]));
        Assert.True(longest < TimeSpan.FromSeconds(25), $"a request hung for {longest.TotalSeconds} s");
        Assert.NotEmpty(received);
        await system.WaitForWorkersAsync(1);
    }

    [Fact]
    public async Task MessagesToAReceiverThatIsDownForTheFirstAttemptsAreDeliveredWhenItComesBack()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var id = await system.SendAsync(new { userId = "down-1", callbackUrl = $"http://127.0.0.1:{port}/cb/down-1", payload = 1 });
        // Nothing listens: attempts fail with "connection refused" until the receiver starts.
        await Eventually.WaitAsync(async () => (await system.Registry.FindAsync("down-1", CancellationToken.None))?.Counts.Failed ?? 0,
            failed => failed >= 2, Deadline, "two failed attempts");

        await using var receiver = await CallbackSink.StartAsync(port);
        var callback = Assert.Single(await receiver.WaitForAsync("down-1", c => c.Count >= 1, Deadline));
        Assert.Equal(id, callback.Headers["webhook-id"]);
        Assert.True(callback.Json.GetProperty("attempt").GetInt32() >= 3);
    }
}
