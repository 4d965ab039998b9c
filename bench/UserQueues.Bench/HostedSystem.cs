using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace UserQueues.Bench;

/// <summary>
/// <c>--host</c>: the bench starts the AppHost itself, in this process (Aspire.Hosting.Testing, as
/// the functional tests do), with a private broker node in its own data folder and free ports.
/// Hosting it lets the bench restart the worker, so worker start → all queues subscribed is measured.
/// </summary>
public sealed class HostedSystem : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private readonly DistributedApplication _app;

    private HostedSystem(DistributedApplication app, Uri api, Uri amqp)
    {
        _app = app;
        Api = api;
        Amqp = amqp;
        Worker = new WorkerControl(
            ct => ExecuteOnWorkerAsync(KnownResourceCommands.StopCommand, ct),
            ct => ExecuteOnWorkerAsync(KnownResourceCommands.StartCommand, ct));
    }

    public Uri Api { get; }
    public Uri Amqp { get; }
    public WorkerControl Worker { get; }

    /// <summary>The settings the measured system runs with (see <see cref="BenchSystemSettings"/>).</summary>
    public static async Task<HostedSystem> StartAsync(string dataDirectory, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.UserQueues_AppHost>(
            ["--Messaging:Mode=local", $"--DataDirectory={dataDirectory}", .. BenchSystemSettings.Arguments],
            (options, _) => options.DisableDashboard = true,
            timeout.Token);
        builder.Services.AddLogging(logging => logging.ClearProviders());

        // No dashboard, so no OTLP collector: the services would otherwise try to export to one.
        foreach (var project in builder.Resources.OfType<ProjectResource>())
        {
            builder.CreateResourceBuilder(project).WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", "");
        }

        var app = await builder.BuildAsync(timeout.Token);
        await app.StartAsync(timeout.Token);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("messaging", timeout.Token);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("api", timeout.Token);
        await app.ResourceNotifications.WaitForResourceAsync("worker", KnownResourceStates.Running, timeout.Token);
        var amqp = await app.GetConnectionStringAsync("messaging", timeout.Token)
            ?? throw new InvalidOperationException("The AppHost gave the messaging resource no connection string.");
        return new HostedSystem(app, app.GetEndpoint("api", "http"), new Uri(amqp));
    }

    private async Task ExecuteOnWorkerAsync(string command, CancellationToken cancellationToken)
    {
        var worker = _app.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == "worker");
        var result = await _app.Services.GetRequiredService<ResourceCommandService>().ExecuteCommandAsync(worker, command, cancellationToken);
        if (!result.Success)
        {
            throw new InvalidOperationException($"{command} on the worker failed: {result.Message}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>
/// What the benchmarked system needs beyond its defaults: the bench's callback sink listens on
/// 127.0.0.1, which callback protection blocks unless allowed, and the per-user rate limit would
/// measure itself instead of the system. bench/run.sh passes the same.
/// </summary>
internal static class BenchSystemSettings
{
    public static readonly string[] Arguments =
    [
        "--Delivery:AllowedNetworks:0=127.0.0.1/32",
        "--RateLimit:PermitsPerSecond=1000000",
        "--RateLimit:Burst=1000000",
    ];
}
