using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using UserQueues.Bench.Infrastructure;
using UserQueues.Messaging;

namespace UserQueues.Bench.Scenarios;

/// <summary>The running system, from a producer's side: its HTTP API, and its queues as the broker sees them.</summary>
public sealed class SystemClient : IDisposable
{
    private readonly HttpClient _http;

    public SystemClient(Uri api, int concurrency)
    {
        // One pooled handler, enough connections for every request in flight.
        var handler = new SocketsHttpHandler { MaxConnectionsPerServer = concurrency + 8, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
        _http = new HttpClient(handler) { BaseAddress = api, Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>POST /create-queue for every user; returns the time and the failed requests.</summary>
    public async Task<(TimeSpan Elapsed, int Failures)> CreateQueuesAsync(IReadOnlyList<string> userIds, int concurrency, IProgressStep progress, CancellationToken cancellationToken)
    {
        var failures = 0;
        var watch = Stopwatch.StartNew();
        await SendPlan.ForEachAsync(userIds, concurrency, async (userId, ct) =>
        {
            using var content = Json($$"""{"userId":"{{userId}}"}""");
            try
            {
                using var response = await _http.PostAsync("create-queue", content, ct);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failures);
                }
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref failures);
            }

            progress.Increment();
        }, cancellationToken);
        return (watch.Elapsed, failures);
    }

    /// <summary>
    /// POST /send-message for every message of the plan, to the sink's callback URL; returns the
    /// failed sends and their statuses ("503×3, 0×1": 0 = no HTTP answer).
    /// </summary>
    /// <param name="perSecond">Open loop at this rate (<see cref="SendPlan.RunPacedAsync"/>) instead of <paramref name="concurrency"/> in flight.</param>
    public async Task<(TimeSpan Elapsed, IReadOnlyCollection<(int User, int Sequence)> Failures, string Statuses)> SendAsync(IReadOnlyList<string> userIds, int messages, int concurrency, int payloadBytes, string callbackUrl, IProgressStep progress, CancellationToken cancellationToken, double? perSecond = null)
    {
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var watch = Stopwatch.StartNew();
        var failures = perSecond is { } rate
            ? await SendPlan.RunPacedAsync(userIds.Count, messages, rate, SendOneOfPlanAsync, cancellationToken)
            : await SendPlan.RunAsync(userIds.Count, messages, concurrency, SendOneOfPlanAsync, cancellationToken);
        return (watch.Elapsed, failures, string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Value}")));

        async Task<bool> SendOneOfPlanAsync(int user, int sequence)
        {
            try
            {
                var status = await SendOneAsync(userIds[user], callbackUrl, BenchPayload.Create(user, sequence, Stopwatch.GetTimestamp(), payloadBytes), delaySeconds: null, cancellationToken);
                if (status is >= 200 and < 300)
                {
                    return true;
                }

                statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                return false;
            }
            finally
            {
                progress.Increment();
            }
        }
    }

    /// <summary>One send-message; returns the HTTP status (0 when the request itself failed).</summary>
    public async Task<int> SendOneAsync(string userId, string callbackUrl, byte[] payload, int? delaySeconds, CancellationToken cancellationToken)
    {
        var delay = delaySeconds is { } d ? $",\"delaySeconds\":{d}" : "";
        using var content = Json($$"""{"userId":"{{userId}}","callbackUrl":"{{callbackUrl}}"{{delay}},"payload":{{Encoding.UTF8.GetString(payload)}}}""");
        try
        {
            using var response = await _http.PostAsync("send-message", content, cancellationToken);
            return (int)response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return 0;
        }
    }

    /// <summary>GET a path with the admin key; returns the status and the time to the whole body.</summary>
    public async Task<(HttpStatusCode Status, TimeSpan Elapsed, long Bytes)> GetAdminAsync(string path, string apiKey, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        // The seed's admin header, and a bearer token, whichever the admin API settles on.
        request.Headers.Add("x-api-key", apiKey);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        var watch = Stopwatch.StartNew();
        using var response = await _http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return (response.StatusCode, watch.Elapsed, body.LongLength);
    }

    /// <summary>Waits until every user's queue has a consumer (<see cref="QueueConsumers.WaitForAllAsync"/>).</summary>
    /// <returns>
    /// Whether all were consumed before the deadline, and when a queue was last seen without a
    /// consumer (<see cref="Stopwatch.GetTimestamp"/>): every queue was consumed between that moment
    /// and the return.
    /// </returns>
    public static async Task<(bool Done, long LastPendingSeen)> WaitSubscribedAsync(IConnection connection, IReadOnlyList<string> userIds, TimeSpan timeout, IProgressStep progress, CancellationToken cancellationToken)
    {
        var (done, lastNotDone, _) = await QueueConsumers.WaitForAllAsync(connection, [.. userIds.Select(Topology.QueueName)], consumers => consumers > 0,
            timeout, progress, cancellationToken);
        return (done, lastNotDone);
    }

    /// <summary>Waits until a user's queue has no consumer (the worker stopped); false at the deadline.</summary>
    public static async Task<bool> WaitUnsubscribedAsync(IConnection connection, string userId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        var deadline = Stopwatch.StartNew();
        while ((await channel.QueueDeclarePassiveAsync(Topology.QueueName(userId), cancellationToken)).ConsumerCount > 0)
        {
            if (deadline.Elapsed > timeout)
            {
                return false;
            }

            await Task.Delay(100, cancellationToken);
        }

        return true;
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    public void Dispose() => _http.Dispose();
}
