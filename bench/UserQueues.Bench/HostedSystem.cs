using System.Collections.Concurrent;
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
/// The services' and the local broker's console output goes to <see cref="LogDirectory"/> (in
/// /tmp/uq-bench-logs, kept after the run), one file per instance.
/// </summary>
public sealed class HostedSystem : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    /// <summary>What the worker logs when its first reconciliation after a start is done (WorkerHost).</summary>
    private const string WorkerStartMarker = "the first reconciliation took";

    private readonly DistributedApplication _app;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _logCapture;
    private volatile string? _lastWorkerStart;

    private HostedSystem(DistributedApplication app, Uri api, Uri amqp, string logDirectory)
    {
        _app = app;
        Api = api;
        Amqp = amqp;
        LogDirectory = logDirectory;
        Worker = new WorkerControl(
            ct => ExecuteOnWorkerAsync(KnownResourceCommands.StopCommand, ct),
            ct => ExecuteOnWorkerAsync(KnownResourceCommands.StartCommand, ct),
            () => _lastWorkerStart);
        _logCapture = Task.Run(() => CaptureLogsAsync(_stopping.Token));
    }

    public Uri Api { get; }
    public Uri Amqp { get; }
    public WorkerControl Worker { get; }
    public string LogDirectory { get; }

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
        return new HostedSystem(app, app.GetEndpoint("api", "http"), new Uri(amqp),
            Path.Combine(Path.GetTempPath(), "uq-bench-logs", Path.GetFileName(Path.TrimEndingDirectorySeparator(dataDirectory))));
    }

    /// <summary>
    /// Appends the console output of every service instance and of the local broker to its file,
    /// and keeps the worker's last start report. A stream that ended (the instance stopped) is
    /// watched again when it restarts; a watch may replay lines already written.
    /// </summary>
    private async Task CaptureLogsAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(LogDirectory);
        var watches = new ConcurrentDictionary<string, Task>(StringComparer.Ordinal);
        var loggers = _app.Services.GetRequiredService<ResourceLoggerService>();
        try
        {
            await foreach (var update in _app.ResourceNotifications.WatchAsync(cancellationToken))
            {
                if (update.Resource is not (ProjectResource or ExecutableResource) || (watches.TryGetValue(update.ResourceId, out var running) && !running.IsCompleted))
                {
                    continue;
                }

                var isWorker = update.Resource.Name == "worker";
                var file = Path.Combine(LogDirectory, update.ResourceId + ".log");
                watches[update.ResourceId] = Task.Run(async () =>
                {
                    await foreach (var lines in loggers.WatchAsync(update.ResourceId).WithCancellation(cancellationToken))
                    {
                        await File.AppendAllLinesAsync(file, lines.Select(l => l.Content), CancellationToken.None);
                        if (isWorker && lines.LastOrDefault(l => l.Content.Contains(WorkerStartMarker, StringComparison.Ordinal)) is { } report)
                        {
                            _lastWorkerStart = report.Content;
                        }
                    }
                }, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
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
        await _stopping.CancelAsync();
        await _logCapture;
        _stopping.Dispose();
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
