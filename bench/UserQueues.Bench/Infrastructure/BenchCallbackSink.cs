using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace UserQueues.Bench.Infrastructure;

/// <summary>
/// The bench's receiver: Kestrel in this process on 127.0.0.1, a free port. <c>POST /cb/{scenario}</c>
/// records the callback in that scenario's <see cref="DeliveryTracker"/> and answers 200.
/// </summary>
public sealed class BenchCallbackSink : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, DeliveryTracker> _trackers = new(StringComparer.Ordinal);
    private readonly WebApplication _app;
    private long _unknown;

    private BenchCallbackSink(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Callbacks that named no known scenario or could not be read.</summary>
    public long Unknown => Interlocked.Read(ref _unknown);

    public static async Task<BenchCallbackSink> StartAsync()
    {
        // Not the current directory as content root, nor a watch on it: the configuration's
        // reload-on-change watches the whole tree under it, and a bench started from /tmp watched
        // every write of the broker node it hosts there (--host): measured at 10 % of the bench
        // process's CPU, plus the thread pool's spinning on those wake-ups, taken from the baseline.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        // Thousands of worker connections may be open at once; Kestrel's defaults allow that.
        var app = builder.Build();
        var sink = new BenchCallbackSink(app);
        app.MapPost("/cb/{scenario}", sink.ReceiveAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        sink.BaseAddress = new Uri(address);
        return sink;
    }

    /// <summary>Starts counting a scenario's callbacks; its callback URL is <see cref="UrlFor"/>.</summary>
    public DeliveryTracker Track(string scenario, int users, int expected) =>
        _trackers[scenario] = new DeliveryTracker(scenario, users, expected);

    public string UrlFor(string scenario) => new Uri(BaseAddress, "/cb/" + scenario).AbsoluteUri;

    private async Task<IResult> ReceiveAsync(HttpContext context, string scenario)
    {
        var now = Stopwatch.GetTimestamp();
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            var root = body.RootElement;
            if (!_trackers.TryGetValue(scenario, out var tracker))
            {
                Interlocked.Increment(ref _unknown);
                return Results.Ok();
            }

            var (user, sequence, sent) = BenchPayload.Read(root.GetProperty("payload"));
            var messageId = context.Request.Headers["webhook-id"].ToString() is { Length: > 0 } id ? id : root.GetProperty("messageId").GetString()!;
            tracker.Record(messageId, user, sequence, sent, now);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            Interlocked.Increment(ref _unknown);
        }

        return Results.Ok();
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
