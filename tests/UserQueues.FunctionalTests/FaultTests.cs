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
    public async Task TheAdminQueuesPageAnswersFromTheSnapshotWhileTheBrokerIsDownAndLiveAgainAfter()
    {
        const string user = "snapshot-fallback";
        using var admin = system.CreateAdminClient();
        (await system.Api.PostAsJsonAsync("/create-queue", new { userId = user })).EnsureSuccessStatusCode();
        (await admin.PostAsJsonAsync("/admin/stop-consumer", new { userId = user })).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(async () => (long?)(await system.Broker.InspectAsync("queue.user." + user))?.ConsumerCount ?? -1, n => n == 0, Deadline, "no consumer");
        await system.SendAsync(new { userId = user, callbackUrl = system.Sink.UrlFor(user), payload = 1 });
        await system.SendAsync(new { userId = user, callbackUrl = system.Sink.UrlFor(user), payload = 2 });
        var path = $"/admin/queues?search={user}";

        // Live figures; then a background snapshot begun after the management API (its source)
        // counted the two waiting messages.
        await Eventually.WaitAsync(() => ListAsync(admin, path), answer => answer is { Status: HttpStatusCode.OK, LiveFigures: "broker", Ready: 2 },
            Deadline, "live figures");
        await Eventually.WaitAsync(() => system.Broker.ManagementReadyAsync("queue.user." + user), n => n == 2, Deadline, "the management API counts the messages");
        var counted = DateTimeOffset.UtcNow;
        await Eventually.WaitAsync(() => ListAsync(admin, path), answer => answer.SnapshotStartedAt > counted && answer.SnapshotError is null,
            Deadline, "a snapshot taken since");

        await system.ExecuteOnBrokerAsync(KnownResourceCommands.StopCommand);
        try
        {
            // Every answer while the broker is down is a page (never a 503), and soon one that says
            // its figures are the snapshot's, with the snapshot's own failure.
            var down = await Eventually.WaitAsync(() => ListAsync(admin, path), answer =>
            {
                Assert.Equal(HttpStatusCode.OK, answer.Status);
                return answer.LiveFigures == "snapshot" && answer.SnapshotError is not null;
            }, Deadline, "an answer from the snapshot while the broker is down");
            Assert.Equal(2, down.Ready);
            Assert.Equal(1, down.Total);
            await Consistently.HoldsAsync(() => ListAsync(admin, path), answer => answer is { Status: HttpStatusCode.OK, LiveFigures: "snapshot", Ready: 2 },
                TimeSpan.FromSeconds(3), "the page keeps answering from the snapshot");
        }
        finally
        {
            await system.ExecuteOnBrokerAsync(KnownResourceCommands.StartCommand);
            await system.App.ResourceNotifications.WaitForResourceHealthyAsync("messaging").WaitAsync(Deadline);
        }

        await Eventually.WaitAsync(() => ListAsync(admin, path), answer => answer.Status == HttpStatusCode.OK && answer.LiveFigures == "broker"
            && answer.Ready == 2 && answer.SnapshotError is null, Deadline, "live figures again after the broker is back");
        await system.WaitForWorkersAsync(1);
        (await admin.PostAsJsonAsync("/admin/start-consumer", new { userId = user })).EnsureSuccessStatusCode();
        await system.Sink.WaitForAsync(user, c => c.Count == 2, Deadline);
    }

    private sealed record ListAnswer(HttpStatusCode Status, string? LiveFigures, long? Ready, int? Total, DateTimeOffset? SnapshotStartedAt, string? SnapshotError)
    {
        public override string ToString() => $"{(int)Status} liveFigures={LiveFigures} ready={Ready} total={Total} snapshot started={SnapshotStartedAt:O} error={SnapshotError}";
    }

    /// <summary>GET one page of the admin queue list: its status, where its figures come from, the one queue's ready, and the snapshot's start and error.</summary>
    private static async Task<ListAnswer> ListAsync(HttpClient admin, string path)
    {
        using var response = await admin.GetAsync(path);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return new ListAnswer(response.StatusCode, null, null, null, null, null);
        }

        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var snapshot = body.GetProperty("snapshot");
        var queues = body.GetProperty("queues");
        DateTimeOffset? started = snapshot.GetProperty("takenAt").ValueKind == JsonValueKind.String
            ? snapshot.GetProperty("takenAt").GetDateTimeOffset() - TimeSpan.FromMilliseconds(snapshot.GetProperty("durationMs").GetInt64())
            : null;
        return new ListAnswer(response.StatusCode, body.GetProperty("liveFigures").GetString(),
            queues.GetArrayLength() == 1 ? queues[0].GetProperty("ready").GetInt64() : null,
            body.GetProperty("total").GetInt32(), started,
            snapshot.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String ? error.GetString() : null);
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
