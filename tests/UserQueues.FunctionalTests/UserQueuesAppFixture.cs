using System.Diagnostics;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;

// One system at a time: each starts a broker and four services on a 2-core machine.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace UserQueues.FunctionalTests;

/// <summary>
/// The real system, started once for the functional tests: the AppHost in <c>local</c> broker mode
/// (Debian's rabbitmq-server as a private node), with its own data folder and ports, plus a
/// callback sink and a probe on the broker.
/// </summary>
public class UserQueuesAppFixture : IAsyncLifetime
{
    /// <summary>Worker processes the AppHost starts.</summary>
    protected virtual int WorkerReplicas => 1;

    /// <summary>AppHost settings given after the defaults below, so they override them.</summary>
    protected virtual IEnumerable<string> OverridingArguments => [];

    /// <summary>More environment variables of one service (resource name, variable, value).</summary>
    protected virtual IEnumerable<(string Resource, string Name, string Value)> ServiceEnvironment => [];

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("uq-functional-").FullName;

    /// <summary>
    /// How the AppHost provides the broker in tests: <c>local</c> (Debian's rabbitmq-server, the
    /// default) or <c>container</c>, from USERQUEUES_TEST_BROKER_MODE (test.sh sets it).
    /// </summary>
    public static string BrokerMode { get; } =
        Environment.GetEnvironmentVariable("USERQUEUES_TEST_BROKER_MODE") is { Length: > 0 } mode ? mode : "local";

    /// <summary>The global signing secret the system runs with (32 known bytes, so tests can verify independently).</summary>
    public static byte[] GlobalSigningKey { get; } = [.. Enumerable.Range(100, 32).Select(i => (byte)i)];

    public static string GlobalSigningSecret { get; } = "whsec_" + Convert.ToBase64String(GlobalSigningKey);

    /// <summary>The admin API key the system runs with (not the seed's default: outside Development that one is refused).</summary>
    public string AdminApiKey { get; } = "functional-" + Guid.NewGuid().ToString("N");

    public DistributedApplication App { get; private set; } = null!;
    public HttpClient Api { get; private set; } = null!;
    public CallbackSink Sink { get; private set; } = null!;
    public BrokerProbe Broker { get; private set; } = null!;

    /// <summary>The registry file the services share, read directly.</summary>
    public SqliteQueueRegistry Registry { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        Sink = await CallbackSink.StartAsync();

        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.UserQueues_AppHost>(
            [
                $"--Messaging:Mode={BrokerMode}",
                $"--DataDirectory={_dataDirectory}",
                $"--Worker:Replicas={WorkerReplicas}",
                "--Worker:ReconcileIntervalSeconds=2",
                "--Worker:ExpiryCheckIntervalSeconds=1",
                // The shared dead-letter inbox is sorted into per-user queues every second (5 s by default).
                "--Worker:DeadLetterSortIntervalSeconds=1",
                "--Delivery:TimeoutSeconds=5",
                // Retries wait min(1 s, 2^attempt s) so that five attempts take seconds, not a minute.
                "--Delivery:MaxBackoffSeconds=1",
                // Callback protection stays ON: only the sink's address is opened, explicitly. This
                // also overrides the worker's Development launch profile (which the AppHost applies
                // here too) that allows every private network for the local demo.
                "--Delivery:AllowPrivateNetworks=false",
                "--Delivery:AllowedNetworks:0=127.0.0.1/32",
                $"--Delivery:SigningSecret={GlobalSigningSecret}",
                // A rotated secret reaches the workers within a second (30 s by default).
                "--Delivery:SigningSecretCacheSeconds=1",
                // A small burst so that the rate-limit test reaches it quickly; still above the 20
                // messages per user that the ordering test sends back to back.
                "--RateLimit:Burst=40",
                "--RateLimit:PermitsPerSecond=1",

                // The AppHost forwards the seed's variable to the services, as run.sh would.
                $"--ADMIN_API_KEY={AdminApiKey}",
                "--Messaging:Management:SnapshotIntervalSeconds=1",
                .. OverridingArguments,
            ],
            (options, _) => options.DisableDashboard = true,
            timeout.Token);
        // The AppHost forwards each resource's console output to a logger named after the resource.
        builder.Services.AddLogging(logging => logging
            .SetMinimumLevel(LogLevel.Information)
            .AddProvider(new ResourceLogFiles(ResourceLogDirectory)));

        // No dashboard runs, so no OTLP collector listens: without this the services would try to
        // export to one and spend their shutdown waiting for it.
        foreach (var project in builder.Resources.OfType<ProjectResource>())
        {
            var resource = builder.CreateResourceBuilder(project).WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", "");
            foreach (var (_, name, value) in ServiceEnvironment.Where(e => e.Resource == project.Name))
            {
                resource.WithEnvironment(name, value);
            }
        }

        App = await builder.BuildAsync(timeout.Token);
        await App.StartAsync(timeout.Token);
        await App.ResourceNotifications.WaitForResourceHealthyAsync("messaging", timeout.Token);
        await App.ResourceNotifications.WaitForResourceHealthyAsync("api", timeout.Token);

        Api = App.CreateHttpClient("api");
        Registry = new SqliteQueueRegistry(Options.Create(new RegistryOptions { Path = Path.Combine(_dataDirectory, "registry.db") }));
        Broker = await BrokerProbe.ConnectAsync(
            (await App.GetConnectionStringAsync("messaging", timeout.Token))!,
            App.GetEndpoint("messaging", "management"));
        await WaitForWorkersAsync(WorkerReplicas);
    }

    /// <summary>A client of the API that sends the admin key on every request.</summary>
    public HttpClient CreateAdminClient()
    {
        var client = App.CreateHttpClient("api");
        client.DefaultRequestHeaders.Add("x-api-key", AdminApiKey);
        return client;
    }

    /// <summary>Where every resource's console output goes, one file per resource, for diagnosing a failed run.</summary>
    public static string ResourceLogDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "resource-logs");

    /// <summary>POSTs a send-message that must be accepted; returns its messageId.</summary>
    public async Task<string> SendAsync(object request)
    {
        var response = await Api.PostAsJsonAsync("/send-message", request);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("messageId").GetString()!;
    }

    /// <summary>Waits until <paramref name="count"/> worker instances listen on the control exchange.</summary>
    public Task WaitForWorkersAsync(int count) =>
        Eventually.WaitAsync(Broker.ControlListenersAsync, n => n == count, TimeSpan.FromSeconds(60), $"{count} worker(s) listening");

    /// <summary>Stops or starts the worker resource through Aspire's own resource commands.</summary>
    public async Task ExecuteOnWorkerAsync(string command)
    {
        var worker = App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == "worker");
        var result = await App.Services.GetRequiredService<ResourceCommandService>().ExecuteCommandAsync(worker, command);
        Assert.True(result.Success, $"{command} on the worker failed: {result.Message}");
    }

    /// <summary>
    /// Kills one worker process with SIGKILL (no shutdown at all), then waits until the broker has
    /// seen it go. Only this fixture's workers: their registry is in this data folder.
    /// </summary>
    public async Task KillWorkerAsync()
    {
        var marker = $"Registry__Path={Path.Combine(_dataDirectory, "registry.db")}";
        var mine = new List<Process>();
        foreach (var process in Process.GetProcessesByName("UserQueues.Worker"))
        {
            var environment = await File.ReadAllTextAsync($"/proc/{process.Id}/environ");
            if (environment.Split('\0').Contains(marker))
            {
                mine.Add(process);
            }
        }

        Assert.Equal(WorkerReplicas, mine.Count);
        mine[0].Kill();
        await WaitForWorkersAsync(WorkerReplicas - 1);
        if (WorkerReplicas == 1)
        {
            await App.ResourceNotifications.WaitForResourceAsync("worker", e => KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), CancellationToken.None)
                .WaitAsync(TimeSpan.FromSeconds(60));
        }
    }

    /// <summary>Stops or starts the broker resource (a graceful RabbitMQ stop; its data folder stays).</summary>
    public async Task ExecuteOnBrokerAsync(string command)
    {
        var broker = App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == "messaging");
        var result = await App.Services.GetRequiredService<ResourceCommandService>().ExecuteCommandAsync(broker, command);
        Assert.True(result.Success, $"{command} on the broker failed: {result.Message}");
    }

    public async Task DisposeAsync()
    {
        await Broker.DisposeAsync();
        Api.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        await Sink.DisposeAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException e)
        {
            Trace.WriteLine($"Could not delete {_dataDirectory}: {e.Message}");
        }
    }
}

/// <summary>
/// The same system with the production intervals instead of the tests' short ones, for measuring
/// at thousands of queues: a management snapshot every second, a reconciliation every 2 s and an
/// expiry check every second each read every queue, and at 10,000 queues that load alone held
/// queue creation to 10-20 per second.
/// </summary>
public sealed class ProductionIntervalsAppFixture : UserQueuesAppFixture
{
    protected override IEnumerable<string> OverridingArguments =>
    [
        "--Worker:ReconcileIntervalSeconds=10",
        "--Worker:ExpiryCheckIntervalSeconds=30",
        "--Messaging:Management:SnapshotIntervalSeconds=5",
    ];

    /// <summary>The worker logs how long each reconciliation took (resource-logs/worker.log): what start-all costs it.</summary>
    protected override IEnumerable<(string Resource, string Name, string Value)> ServiceEnvironment =>
    [
        ("worker", "Logging__LogLevel__UserQueues.Worker.Consumers.WorkerHost", "Debug"),
    ];
}

/// <summary>The same system with two worker replicas.</summary>
public sealed class ReplicatedAppFixture : UserQueuesAppFixture
{
    protected override int WorkerReplicas => 2;
}

[CollectionDefinition(Name)]
public sealed class ReplicatedAppGroup : ICollectionFixture<ReplicatedAppFixture>
{
    public const string Name = "UserQueues app with two workers";
}

[CollectionDefinition(Name)]
public sealed class UserQueuesAppGroup : ICollectionFixture<UserQueuesAppFixture>
{
    public const string Name = "UserQueues app";
}
