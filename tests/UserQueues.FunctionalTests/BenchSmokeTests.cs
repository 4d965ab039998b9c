using UserQueues.Bench;
using UserQueues.Bench.Infrastructure;

namespace UserQueues.FunctionalTests;

/// <summary>
/// The bench harness's own scenario code, run small against the real system so that it keeps
/// working. No figure is asserted (CI machines are shared and noisy): only that nothing was lost,
/// duplicated or reordered, in the system and in the raw baseline.
/// </summary>
[Collection(UserQueuesAppGroup.Name)]
public sealed class BenchSmokeTests(UserQueuesAppFixture system)
{
    [Fact]
    public async Task ASmallBenchRunLosesNothingAndKeepsOrderPerUser()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var settings = new BenchSettings
        {
            Api = system.App.GetEndpoint("api", "http"),
            Amqp = new Uri((await system.App.GetConnectionStringAsync("messaging", timeout.Token))!),
            Users = 10,
            Messages = 300,
            Queues = 40,
            ScaleMessages = 80,
            SingleChannelDeclares = 20,
            Concurrency = 16,
            DelaySeconds = [1],
            MessagesPerDelay = 2,
            LightLoadMessages = 40,
            WarmupMessages = 50,
            DrainTimeout = TimeSpan.FromSeconds(60),
            ResultsDirectory = null,
            RunId = "smoke",
        };
        var worker = new WorkerControl(
            _ => system.ExecuteOnWorkerAsync(KnownResourceCommands.StopCommand),
            _ => system.ExecuteOnWorkerAsync(KnownResourceCommands.StartCommand),
            () => null);

        var report = await new BenchRunner(settings, NoProgress.Instance, worker).RunAsync(timeout.Token);

        // e2e, its light-load run, scale: each with its raw baseline.
        Assert.Equal(6, report.Deliveries.Count);
        Assert.All(report.Deliveries, d =>
        {
            Assert.Equal(0, d.SendFailures);
            Assert.Equal(0, d.Lost);
            Assert.Equal(0, d.OrderViolations);
            Assert.Equal(d.Sent, d.Delivered);
        });
        Assert.Contains(report.Results, r => r.Scenario == "subscribe" && r.Measure.StartsWith("worker start", StringComparison.Ordinal) && r.Value > 0);
        Assert.Contains(report.Results, r => r.Measure.StartsWith("latency p99 at 10 % load", StringComparison.Ordinal) && r.Value > 0 && r.Baseline > 0);
        // Delay and admin answer with a figure or say plainly that they are not there yet; neither fails the run.
        Assert.Contains(report.Results, r => r.Scenario.StartsWith("delay", StringComparison.Ordinal));
        Assert.Contains(report.Results, r => r.Scenario == "admin");
    }
}
