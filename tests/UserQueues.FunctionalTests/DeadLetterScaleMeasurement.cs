using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using UserQueues.Messaging;
using Xunit.Abstractions;

namespace UserQueues.FunctionalTests;

/// <summary>
/// What dead letters cost at N users (opt-in, like <see cref="AdminScaleMeasurement"/>; it asserts
/// correctness, nothing about time). N dead letters of N users are left in the shared queue as the
/// version before per-user queues left them; the old layout's list (a scan of the shared queue) is
/// timed on them; the worker is started and moves them into N per-user queues (timed); then one
/// user's list, replay and purge through the admin API, and the first dead letter of new users,
/// declare included, beside a user's next one.
/// </summary>
[Collection(UserQueuesAppGroup.Name)]
public sealed class DeadLetterScaleMeasurement(UserQueuesAppFixture system, ITestOutputHelper output)
{
    private const int NewUsers = 200;
    private const int CompareQueues = 2000;

    [MeasurementFact]
    public async Task MeasureDeadLettersOfManyUsers()
    {
        var count = int.Parse(Environment.GetEnvironmentVariable(MeasurementFactAttribute.Variable)!, CultureInfo.InvariantCulture);
        await using var connection = await new ConnectionFactory { Uri = new Uri((await system.App.GetConnectionStringAsync("messaging"))!) }.CreateConnectionAsync();

        Report($"load average at start: {(await File.ReadAllTextAsync("/proc/loadavg")).Trim()}");
        await system.WaitForWorkersAsync(1);
        await system.ExecuteOnWorkerAsync(KnownResourceCommands.StopCommand);
        await system.WaitForWorkersAsync(0);
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < count; i++)
            {
                var message = new UserMessage(Guid.NewGuid().ToString(), User(i), system.Sink.UrlFor("dlscale"), "{\"n\":1}"u8.ToArray(), DateTimeOffset.UtcNow);
                var properties = message.ToProperties();
                properties.Headers![MessageHeaders.DeadLetterReason] = "measurement";
                await channel.BasicPublishAsync(Topology.DeadLetterExchange, Topology.DeadLetterRoutingKey, mandatory: true, properties, message.Payload);
            }

            Report($"published {count} dead letters of {count} users to the shared queue in {watch.Elapsed.TotalSeconds:0.0} s");
        }

        // Before: the shared queue's list of one user was a basic.get of every dead letter, then a close.
        var shared = new List<double>();
        for (var round = 0; round < 3; round++)
        {
            var one = Stopwatch.StartNew();
            Assert.Equal(1, await ScanSharedQueueAsync(connection, User(count / 2)));
            shared.Add(one.Elapsed.TotalMilliseconds);
        }

        Report($"shared layout: one user's list among {count} (basic.get of all, then close): {Times(shared)}");

        var memoryBefore = await system.Broker.NodeMemoryAsync();
        Report($"broker memory with {count} letters in the shared queue: {memoryBefore / 1e6:0} MB; {await BreakdownAsync()}");
        var migration = Stopwatch.StartNew();
        await system.ExecuteOnWorkerAsync(KnownResourceCommands.StartCommand);
        await Eventually.WaitAsync(() => system.Broker.InspectAsync(Topology.DeadLetterQueue), q => q?.MessageCount == 0, TimeSpan.FromMinutes(10), "the shared queue sorted");
        await Eventually.WaitAsync(() => system.Broker.InspectAsync(Topology.DeadLetterQueueName(User(count - 1))), q => q?.MessageCount == 1, TimeSpan.FromMinutes(1), "the last user's letter moved");
        Report($"worker start → {count} dead letters moved into {count} per-user queues: {migration.Elapsed.TotalSeconds:0.0} s ({count / migration.Elapsed.TotalSeconds:0} /s)");
        // Every letter is where it belongs (a sample of 1 in 100 users, the last one included).
        foreach (var i in Enumerable.Range(0, count).Where(i => i % 100 == 0 || i == count - 1))
        {
            Assert.Equal(1u, (await system.Broker.InspectAsync(Topology.DeadLetterQueueName(User(i))))!.MessageCount);
        }

        var memoryAfter = await system.Broker.NodeMemoryAsync();
        Report($"broker memory with them in {count} per-user queues: {memoryAfter / 1e6:0} MB; {await BreakdownAsync()}");
        // Idle queue processes hibernate; what is left is their lasting cost.
        await Task.Delay(TimeSpan.FromSeconds(30));
        Report($"broker memory 30 s later: {await system.Broker.NodeMemoryAsync() / 1e6:0} MB; {await BreakdownAsync()}");

        using var admin = system.CreateAdminClient();
        admin.Timeout = TimeSpan.FromMinutes(5);
        var lists = new List<double>();
        for (var round = 0; round < 5; round++)
        {
            var one = Stopwatch.StartNew();
            var page = await admin.GetFromJsonAsync<JsonElement>($"/admin/dead-letters?userId={User(count / 2)}");
            lists.Add(one.Elapsed.TotalMilliseconds);
            Assert.Equal(1, page.GetProperty("total").GetInt32());
        }

        Report($"per-user layout: GET /admin/dead-letters for one user among {count}: {Times(lists)}");

        var replays = new List<double>();
        for (var round = 0; round < 3; round++)
        {
            var one = Stopwatch.StartNew();
            var replayed = await admin.PostAsJsonAsync("/admin/dead-letters/replay", new { userId = User(count / 2 + 1 + round) });
            replays.Add(one.Elapsed.TotalMilliseconds);
            Assert.Equal(1, (await replayed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt32());
        }

        Report($"per-user layout: POST /admin/dead-letters/replay of one user's letter (the user's queue declared and registered first: it had none): {Times(replays)}");

        var purges = new List<double>();
        for (var round = 0; round < 3; round++)
        {
            var one = Stopwatch.StartNew();
            var purged = await admin.PostAsJsonAsync("/admin/dead-letters/purge", new { userId = User(count / 2 + 10 + round) });
            purges.Add(one.Elapsed.TotalMilliseconds);
            Assert.Equal(1, (await purged.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt32());
        }

        Report($"per-user layout: POST /admin/dead-letters/purge of one user's letter (purge, then delete of the empty queue): {Times(purges)}");

        // The worker's path (DeadLetters.AddAsync) from this process, one at a time: a new user's
        // first dead letter (publish comes back, declare + bind, publish again) and its second one.
        var options = Options.Create(new MessagingOptions());
        await using var channels = new BrokerChannels(connection, options);
        var topology = new BrokerTopology(channels);
        var publisher = new MessagePublisher(channels, options, TimeProvider.System);
        using var deadLetters = new DeadLetters(channels, topology, publisher, new UserQueueProvisioner(topology, system.Registry, publisher, options, TimeProvider.System), options);
        var firsts = new List<double>();
        var seconds = new List<double>();
        foreach (var round in new[] { firsts, seconds })
        {
            for (var i = 0; i < NewUsers; i++)
            {
                var message = new UserMessage(Guid.NewGuid().ToString(), $"dlnew-{i:D3}", system.Sink.UrlFor("dlscale"), "1"u8.ToArray(), DateTimeOffset.UtcNow);
                var one = Stopwatch.StartNew();
                await deadLetters.AddAsync(message, "measurement", 410, CancellationToken.None);
                round.Add(one.Elapsed.TotalMilliseconds);
            }
        }

        Report($"a user's first dead letter (declare included), {NewUsers} users one after the other: {Percentiles(firsts)}");
        Report($"the same users' second dead letter (publish only): {Percentiles(seconds)}");
        Assert.Equal(2u, (await system.Broker.InspectAsync(Topology.DeadLetterQueueName("dlnew-000")))!.MessageCount);

        // The broker's own cost of one more durable queue holding one persistent message, by classic
        // queue version (x-queue-version 2 exists from RabbitMQ 3.10; 4.x has only version 2).
        foreach (var version in new int?[] { null, 2 })
        {
            var before = await system.Broker.NodeMemoryPartAsync("queue_procs");
            var compared = Enumerable.Range(0, CompareQueues).Select(i => $"dlcompare-v{version ?? 1}-{i:D4}").ToList();
            await Parallel.ForEachAsync(compared, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (name, ct) =>
                await channels.Declares.RunAsync(async (channel, token) =>
                {
                    var arguments = version is { } v ? new Dictionary<string, object?> { ["x-queue-version"] = v } : null;
                    await channel.QueueDeclareAsync(name, durable: true, exclusive: false, autoDelete: false, arguments: arguments, cancellationToken: token);
                }, ct));
            await Parallel.ForEachAsync(compared, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (name, ct) =>
                await channels.Publishes.RunAsync(async (channel, token) =>
                    await channel.BasicPublishAsync("", name, mandatory: true, new BasicProperties { DeliveryMode = DeliveryModes.Persistent }, "{\"n\":1}"u8.ToArray(), token), ct));
            await Task.Delay(TimeSpan.FromSeconds(30));
            var after = await system.Broker.NodeMemoryPartAsync("queue_procs");
            Report($"{CompareQueues} more queues (classic v{version ?? 1}, one message each), 30 s idle: queue_procs + {(after - before) / 1e3 / CompareQueues:0.0} kB per queue");
            await Parallel.ForEachAsync(compared, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (name, ct) =>
                await channels.Declares.RunAsync(async (channel, token) => await channel.QueueDeleteAsync(name, cancellationToken: token), ct));
        }

        // Leave no 10,000 queues behind for the next tests of this fixture.
        var cleanup = Stopwatch.StartNew();
        var names = Enumerable.Range(0, count).Select(User).Concat(Enumerable.Range(0, NewUsers).Select(i => $"dlnew-{i:D3}")).Select(Topology.DeadLetterQueueName);
        await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (name, ct) =>
            await channels.Declares.RunAsync(async (channel, token) => await channel.QueueDeleteAsync(name, cancellationToken: token), ct));
        Report($"cleanup: deleted the dead-letter queues in {cleanup.Elapsed.TotalSeconds:0.0} s");
        Report($"load average at end: {(await File.ReadAllTextAsync("/proc/loadavg")).Trim()}");
    }

    private static string User(int i) => $"dlscale-{i:D5}";

    private async Task<string> BreakdownAsync() =>
        string.Join(", ", (await system.Broker.NodeMemoryBreakdownAsync(5)).Select(p => $"{p.Part} {p.Bytes / 1e6:0} MB"));

    private static async Task<int> ScanSharedQueueAsync(IConnection connection, string userId)
    {
        await using var channel = await connection.CreateChannelAsync();
        var mine = 0;
        while (await channel.BasicGetAsync(Topology.DeadLetterQueue, autoAck: false) is { } result)
        {
            mine += UserMessage.HeaderString(result.BasicProperties.Headers, MessageHeaders.UserId) == userId ? 1 : 0;
        }

        await channel.CloseAsync();
        return mine;
    }

    private static string Times(IEnumerable<double> milliseconds) => string.Join(", ", milliseconds.Select(t => $"{t:0} ms"));

    private static string Percentiles(List<double> milliseconds)
    {
        var sorted = milliseconds.Order().ToList();
        double At(double q) => sorted[Math.Min(sorted.Count - 1, (int)(q * sorted.Count))];
        return $"p50 {At(0.5):0.0} ms, p95 {At(0.95):0.0} ms, max {sorted[^1]:0.0} ms";
    }

    private void Report(string line)
    {
        output.WriteLine(line);
        Console.WriteLine("[dead-letter measurement] " + line);
    }
}
