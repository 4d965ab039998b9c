using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using RabbitMQ.Client;
using UserQueues.Messaging;
using Xunit.Abstractions;

namespace UserQueues.FunctionalTests;

/// <summary>
/// What the shared dead-letter queue costs when it is full: N dead letters of N users, then the
/// time of one user's list and purge through the admin API. A measurement (opt-in, like
/// <see cref="AdminScaleMeasurement"/>); it asserts nothing about time.
/// </summary>
[Collection(UserQueuesAppGroup.Name)]
public sealed class DeadLetterScaleMeasurement(UserQueuesAppFixture system, ITestOutputHelper output)
{
    [MeasurementFact]
    public async Task MeasureOneUsersDeadLettersInAFullSharedQueue()
    {
        var count = int.Parse(Environment.GetEnvironmentVariable(MeasurementFactAttribute.Variable)!, System.Globalization.CultureInfo.InvariantCulture);
        await using var connection = await new ConnectionFactory { Uri = new Uri((await system.App.GetConnectionStringAsync("messaging"))!) }.CreateConnectionAsync();
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            var watch = Stopwatch.StartNew();
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 1 }, async (i, ct) =>
            {
                var message = new UserMessage(Guid.NewGuid().ToString(), $"dlscale-{i:D5}", "http://127.0.0.1:9/x", "{\"n\":1}"u8.ToArray(), DateTimeOffset.UtcNow);
                var properties = message.ToProperties();
                properties.Headers![MessageHeaders.DeadLetterReason] = "measurement";
                await channel.BasicPublishAsync(Topology.DeadLetterExchange, Topology.DeadLetterRoutingKey, mandatory: true, properties, message.Payload, ct);
            });
            Report($"published {count} dead letters in {watch.Elapsed.TotalSeconds:0.0} s");
        }

        using var admin = system.CreateAdminClient();
        admin.Timeout = TimeSpan.FromMinutes(5);
        var times = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var one = Stopwatch.StartNew();
            var page = await admin.GetFromJsonAsync<JsonElement>($"/admin/dead-letters?userId=dlscale-{count / 2:D5}");
            times.Add(one.Elapsed.TotalMilliseconds);
            Assert.Equal(1, page.GetProperty("total").GetInt32());
        }

        Report($"GET /admin/dead-letters for one user among {count}: {string.Join(", ", times.Select(t => $"{t:0} ms"))}");
        var purge = Stopwatch.StartNew();
        var purged = await admin.PostAsJsonAsync("/admin/dead-letters/purge", new { userId = $"dlscale-{count / 2:D5}" });
        purged.EnsureSuccessStatusCode();
        Report($"POST /admin/dead-letters/purge for one user among {count}: {purge.Elapsed.TotalMilliseconds:0} ms");

        await using var cleanup = await connection.CreateChannelAsync();
        await cleanup.QueuePurgeAsync(Topology.DeadLetterQueue);
    }

    private void Report(string line)
    {
        output.WriteLine(line);
        Console.WriteLine("[dead-letter measurement] " + line);
    }
}
