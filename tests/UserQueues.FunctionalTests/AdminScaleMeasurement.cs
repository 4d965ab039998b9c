using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace UserQueues.FunctionalTests;

/// <summary>Runs only when USERQUEUES_MEASURE_ADMIN_QUEUES is set (a number of queues): it measures, it asserts nothing about time.</summary>
public sealed class MeasurementFactAttribute : FactAttribute
{
    public const string Variable = "USERQUEUES_MEASURE_ADMIN_QUEUES";

    public MeasurementFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable)))
        {
            Skip = $"A measurement, not a test: set {Variable}=10000 to run it (the benchmark proper is bench/).";
        }
    }
}

/// <summary>
/// A quick figure of the admin API at many queues, through the real system: page time of
/// GET /admin/queues, stop-all / start-all / reset-all. The benchmark harness (bench/) owns the
/// real measurements; this one prints what it saw.
/// </summary>
[Collection(UserQueuesAppGroup.Name)]
public sealed class AdminScaleMeasurement(UserQueuesAppFixture system, ITestOutputHelper output)
{
    [MeasurementFact]
    public async Task MeasureTheAdminApiAtManyQueues()
    {
        var count = int.Parse(Environment.GetEnvironmentVariable(MeasurementFactAttribute.Variable)!, System.Globalization.CultureInfo.InvariantCulture);
        using var admin = system.CreateAdminClient();
        admin.Timeout = TimeSpan.FromMinutes(5);

        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
            (await system.Api.PostAsJsonAsync("/create-queue", new { userId = $"scale-{i:D5}" }, ct)).EnsureSuccessStatusCode());
        Report($"created {count} queues in {watch.Elapsed.TotalSeconds:0.0} s");

        var snapshot = await Eventually.WaitAsync(
            async () => await admin.GetFromJsonAsync<JsonElement>("/admin/queues?pageSize=1"),
            page => page.GetProperty("snapshot").GetProperty("queues").GetInt32() >= count,
            TimeSpan.FromMinutes(5), "a snapshot with every queue");
        Report($"management snapshot call: {snapshot.GetProperty("snapshot").GetProperty("durationMs").GetInt64()} ms for {snapshot.GetProperty("snapshot").GetProperty("queues").GetInt32()} queues");

        foreach (var query in new[] { "pageSize=50", "pageSize=50&page=100", "pageSize=50&search=scale-09", "pageSize=50&status=running&sort=-createdAt", "pageSize=50&sort=-ready", "pageSize=500" })
        {
            var times = new List<double>();
            for (var i = 0; i < 20; i++)
            {
                var one = Stopwatch.StartNew();
                (await admin.GetAsync($"/admin/queues?{query}")).EnsureSuccessStatusCode();
                times.Add(one.Elapsed.TotalMilliseconds);
            }

            times.Sort();
            Report($"GET /admin/queues?{query}: median {times[10]:0} ms, p95 {times[18]:0} ms, max {times[19]:0} ms");
        }

        foreach (var action in new[] { "stop-all", "start-all", "reset-all" })
        {
            var one = Stopwatch.StartNew();
            var answer = await (await admin.PostAsync($"/admin/{action}", null)).Content.ReadFromJsonAsync<JsonElement>();
            Report($"POST /admin/{action}: {one.Elapsed.TotalMilliseconds:0} ms ({answer.GetRawText()})");
            if (action == "stop-all")
            {
                await Eventually.WaitAsync(async () => (await system.Broker.InspectAsync($"queue.user.scale-{count - 1:D5}"))!.ConsumerCount, n => n == 0, TimeSpan.FromMinutes(5), "last queue without consumer");
                Report($"  ... last queue's consumer cancelled after {one.Elapsed.TotalSeconds:0.0} s");
            }
            else if (action == "start-all")
            {
                await Eventually.WaitAsync(async () => (await system.Broker.InspectAsync($"queue.user.scale-{count - 1:D5}"))!.ConsumerCount, n => n == 1, TimeSpan.FromMinutes(5), "last queue consumed");
                Report($"  ... last queue consumed again after {one.Elapsed.TotalSeconds:0.0} s");
            }
        }
    }

    private void Report(string line)
    {
        output.WriteLine(line);
        File.AppendAllText(Path.Combine(AppContext.BaseDirectory, "admin-measurement.txt"), $"{DateTimeOffset.UtcNow:O} {line}{Environment.NewLine}");
    }
}
