using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace UserQueues.FunctionalTests;

/// <summary>One callback request as the receiver saw it.</summary>
public sealed record ReceivedCallback(string Path, IReadOnlyDictionary<string, string> Headers, string Body, long Sequence, DateTimeOffset ReceivedAt, int AnsweredStatus)
{
    public System.Text.Json.JsonElement Json => System.Text.Json.JsonDocument.Parse(Body).RootElement;
}

/// <summary>
/// A real HTTP receiver on loopback (Kestrel, in the test process) that records every callback in
/// arrival order. <c>/cb/status/{code}/...</c> answers with that status; <c>/cb/flaky/{n}/{code}/...</c>
/// answers the first n attempts of each message (by webhook-id) with that status, adding
/// <c>Retry-After: 2</c> to a 429, and 200 after; <c>/cb/slow/{ms}/...</c> answers 200 after that
/// many milliseconds; anything else answers 200 at once.
/// </summary>
public sealed class CallbackSink : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedCallback> _received = new();
    private readonly ConcurrentDictionary<string, int> _attempts = new();
    private long _sequence;
    private WebApplication? _app;

    public Uri BaseAddress { get; private set; } = null!;

    public IReadOnlyList<ReceivedCallback> Received => [.. _received];

    /// <summary>Starts a sink on <paramref name="port"/> (0: any free port).</summary>
    public static async Task<CallbackSink> StartAsync(int port = 0)
    {
        var sink = new CallbackSink();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.MapPost("/cb/{**path}", sink.ReceiveAsync);
        await app.StartAsync();
        sink._app = app;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        sink.BaseAddress = new Uri(address);
        return sink;
    }

    /// <summary>A callback URL on this sink; <paramref name="path"/> lets a test find its own callbacks.</summary>
    public string UrlFor(string path) => new Uri(BaseAddress, "/cb/" + path).AbsoluteUri;

    public IReadOnlyList<ReceivedCallback> For(string pathPrefix) =>
        [.. _received.Where(r => r.Path.StartsWith("/cb/" + pathPrefix, StringComparison.Ordinal)).OrderBy(r => r.Sequence)];

    /// <summary>Waits until the callbacks under <paramref name="pathPrefix"/> satisfy <paramref name="done"/>, or fails at the deadline.</summary>
    public async Task<IReadOnlyList<ReceivedCallback>> WaitForAsync(string pathPrefix, Func<IReadOnlyList<ReceivedCallback>, bool> done, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var callbacks = For(pathPrefix);
            if (done(callbacks))
            {
                return callbacks;
            }

            if (watch.Elapsed > timeout)
            {
                Assert.Fail($"After {timeout.TotalSeconds} s the sink has {callbacks.Count} callbacks under /cb/{pathPrefix}, which is not what was awaited.");
            }

            await Task.Delay(50);
        }
    }

    private async Task<IResult> ReceiveAsync(HttpContext context, string path)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync();
        var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
        var attempt = _attempts.AddOrUpdate(headers.GetValueOrDefault("webhook-id", ""), 1, (_, n) => n + 1);

        var segments = path.Split('/');
        var status = segments switch
        {
            ["status", var code, ..] when int.TryParse(code, out var fixedStatus) => fixedStatus,
            ["flaky", var times, var code, ..] when int.TryParse(times, out var n) && int.TryParse(code, out var flakyStatus) =>
                attempt <= n ? flakyStatus : 200,
            _ => 200,
        };
        _received.Enqueue(new ReceivedCallback(context.Request.Path, headers, body, Interlocked.Increment(ref _sequence), DateTimeOffset.UtcNow, status));

        if (segments is ["slow", var wait, ..] && int.TryParse(wait, out var milliseconds))
        {
            await Task.Delay(milliseconds); // the receiver's own latency, part of the scenario
        }

        if (status == 429)
        {
            context.Response.Headers.RetryAfter = "2";
        }

        return status == 200 ? Results.Ok(new { ok = true }) : Results.StatusCode(status);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }
}
