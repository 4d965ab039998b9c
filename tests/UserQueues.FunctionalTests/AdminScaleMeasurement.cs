using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using UserQueues.Bench.Infrastructure;
using UserQueues.Bench.Scenarios;
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
/// <remarks>
/// It starts a system of its own (not the tests' shared one) with the production intervals
/// (<see cref="ProductionIntervalsAppFixture"/>), and creates the queues as the bench does: 64
/// requests at once over a plain pooled handler.
/// </remarks>
public sealed class AdminScaleMeasurement(ITestOutputHelper output)
{
    private const int CreateConcurrency = 64;
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(5);

    [MeasurementFact]
    public async Task MeasureTheAdminApiAtManyQueues()
    {
        var count = int.Parse(Environment.GetEnvironmentVariable(MeasurementFactAttribute.Variable)!, System.Globalization.CultureInfo.InvariantCulture);
        var system = new ProductionIntervalsAppFixture();
        await system.InitializeAsync();
        try
        {
            await MeasureAsync(system, count);
        }
        finally
        {
            await system.DisposeAsync();
        }
    }

    private async Task MeasureAsync(UserQueuesAppFixture system, int count)
    {
        using var admin = system.CreateAdminClient();
        admin.Timeout = TimeSpan.FromMinutes(5);
        Report($"load average before: {LoadAverage()}");

        var users = Enumerable.Range(0, count).Select(i => $"scale-{i:D5}").ToArray();
        var queues = users.Select(u => "queue.user." + u).ToArray();
        using (var producer = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = CreateConcurrency + 8 })
        {
            BaseAddress = system.App.GetEndpoint("api", "http"),
            Timeout = TimeSpan.FromMinutes(1),
        })
        {
            var watch = Stopwatch.StartNew();
            await Parallel.ForEachAsync(users, new ParallelOptions { MaxDegreeOfParallelism = CreateConcurrency }, async (user, ct) =>
            {
                using var body = new StringContent($$"""{"userId":"{{user}}"}""", Encoding.UTF8, "application/json");
                (await producer.PostAsync("/create-queue", body, ct)).EnsureSuccessStatusCode();
            });
            Report($"created {count} queues in {watch.Elapsed.TotalSeconds:0.0} s ({count / watch.Elapsed.TotalSeconds:0} /s, {CreateConcurrency} at once); load average {LoadAverage()}");
        }

        var (_, consumed) = await WaitForAllAsync(system, queues, consumers => consumers == 1, Stopwatch.GetTimestamp(), "every queue consumed after creation");
        Report($"every queue consumed no later than {consumed:0.0} s after the last create-queue answered");

        var snapshot = await Eventually.WaitAsync(
            async () => await admin.GetFromJsonAsync<JsonElement>("/admin/queues?pageSize=1"),
            page => page.GetProperty("snapshot").GetProperty("queues").GetInt32() >= count,
            Deadline, "a snapshot with every queue");
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

        // stop-all, then reset-all while the consumers are stopped (one waiting message in every
        // tenth queue, so that it has something to purge and nothing is delivered meanwhile), then start-all.
        foreach (var action in new[] { "stop-all", "reset-all", "start-all" })
        {
            if (action == "reset-all")
            {
                await Parallel.ForEachAsync(users.Where((_, i) => i % 10 == 0), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (user, ct) =>
                    (await system.Api.PostAsJsonAsync("/send-message", new { userId = user, callbackUrl = system.Sink.UrlFor("scale"), payload = 1 }, ct)).EnsureSuccessStatusCode());
            }

            Report($"load average before {action}: {LoadAverage()}");
            var requested = Stopwatch.GetTimestamp();
            using var response = await admin.PostAsync($"/admin/{action}", null);
            var answered = Stopwatch.GetElapsedTime(requested);
            var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
            Report($"POST /admin/{action}: answered in {answered.TotalMilliseconds:0} ms ({answer.GetRawText()})");
            if (action == "stop-all")
            {
                var (after, noLaterThan) = await WaitForAllAsync(system, queues, consumers => consumers == 0, requested, "every consumer cancelled");
                Report($"  ... every consumer cancelled between {after:0.00} and {noLaterThan:0.00} s after the request");
            }
            else if (action == "start-all")
            {
                var (after, noLaterThan) = await WaitForAllAsync(system, queues, consumers => consumers == 1, requested, "every queue consumed again");
                Report($"  ... every queue consumed again between {after:0.00} and {noLaterThan:0.00} s after the request");
            }
            else
            {
                // The answer comes after the last purge: complete when answered.
                Report($"  ... every queue purged when it answered ({answered.TotalSeconds:0.00} s)");
            }
        }
    }

    /// <summary>
    /// Waits until every queue satisfies <paramref name="done"/> (<see cref="QueueConsumers.WaitForAllAsync"/>,
    /// as the bench times subscriptions); returns when that happened, in seconds since
    /// <paramref name="since"/>, as bounds: after the last answer that found a queue not done yet,
    /// and no later than the answer that found the last queue done.
    /// </summary>
    private static async Task<(double After, double NoLaterThan)> WaitForAllAsync(UserQueuesAppFixture system, IReadOnlyList<string> queues,
        Func<long, bool> done, long since, string what)
    {
        var (allDone, lastNotDone, lastDone) = await QueueConsumers.WaitForAllAsync(system.Broker.Connection, queues, done, Deadline, NoProgress.Instance.Begin("", 0), CancellationToken.None);
        Assert.True(allDone, $"{what}: not every queue done after {Deadline.TotalMinutes} min");
        return (Stopwatch.GetElapsedTime(since, lastNotDone).TotalSeconds, Stopwatch.GetElapsedTime(since, Math.Max(lastDone, lastNotDone)).TotalSeconds);
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private void Report(string line)
    {
        output.WriteLine(line);
        File.AppendAllText(Path.Combine(AppContext.BaseDirectory, "admin-measurement.txt"), $"{DateTimeOffset.UtcNow:O} {line}{Environment.NewLine}");
    }
}
