using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace UserQueues.FunctionalTests;

/// <summary>
/// The real system, started once for the functional tests: the AppHost in <c>local</c> broker mode
/// (Debian's rabbitmq-server as a private node), with its own data folder and ports, plus a
/// callback sink and a probe on the broker.
/// </summary>
public sealed class UserQueuesAppFixture : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("uq-functional-").FullName;

    /// <summary>
    /// How the AppHost provides the broker in tests: <c>local</c> (Debian's rabbitmq-server, the
    /// default) or <c>container</c>, from USERQUEUES_TEST_BROKER_MODE (test.sh sets it).
    /// </summary>
    public static string BrokerMode { get; } =
        Environment.GetEnvironmentVariable("USERQUEUES_TEST_BROKER_MODE") is { Length: > 0 } mode ? mode : "local";

    /// <summary>The admin API key the system runs with (not the seed's default: outside Development that one is refused).</summary>
    public string AdminApiKey { get; } = "functional-" + Guid.NewGuid().ToString("N");

    public DistributedApplication App { get; private set; } = null!;
    public HttpClient Api { get; private set; } = null!;
    public CallbackSink Sink { get; private set; } = null!;
    public BrokerProbe Broker { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        Sink = await CallbackSink.StartAsync();

        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.UserQueues_AppHost>(
            [
                $"--Messaging:Mode={BrokerMode}",
                $"--DataDirectory={_dataDirectory}",
                "--Worker:ReconcileIntervalSeconds=2",
                "--Delivery:TimeoutSeconds=5",
                // The AppHost forwards the seed's variable to the services, as run.sh would.
                $"--ADMIN_API_KEY={AdminApiKey}",
                "--Messaging:Management:SnapshotIntervalSeconds=1",
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
            builder.CreateResourceBuilder(project).WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", "");
        }

        App = await builder.BuildAsync(timeout.Token);
        await App.StartAsync(timeout.Token);
        await App.ResourceNotifications.WaitForResourceHealthyAsync("messaging", timeout.Token);
        await App.ResourceNotifications.WaitForResourceHealthyAsync("api", timeout.Token);

        Api = App.CreateHttpClient("api");
        Broker = await BrokerProbe.ConnectAsync(
            (await App.GetConnectionStringAsync("messaging", timeout.Token))!,
            App.GetEndpoint("messaging", "management"));
        await WaitForWorkersAsync(1);
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

[CollectionDefinition(Name)]
public sealed class UserQueuesAppGroup : ICollectionFixture<UserQueuesAppFixture>
{
    public const string Name = "UserQueues app";
}
