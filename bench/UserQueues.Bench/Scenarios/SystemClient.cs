using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
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

    /// <summary>
    /// Waits until every user's queue has a consumer (passive declares, which give exact consumer
    /// counts). While many queues are still without one it asks only about a random sample of
    /// them, every 100 ms, so that the asking does not compete much with the subscribing it times;
    /// once a sample finds every queue consumed, it sweeps all those not yet seen consumed.
    /// </summary>
    /// <returns>
    /// Whether all were consumed before the deadline, and when a queue was last seen without a
    /// consumer (<see cref="Stopwatch.GetTimestamp"/>): every queue was consumed between that moment
    /// and the return.
    /// </returns>
    public static async Task<(bool Done, long LastPendingSeen)> WaitSubscribedAsync(IConnection connection, IReadOnlyList<string> userIds, TimeSpan timeout, IProgressStep progress, CancellationToken cancellationToken)
    {
        const int SampleSize = 64;
        var pending = userIds.Select(Topology.QueueName).ToList();
        var lastPendingSeen = Stopwatch.GetTimestamp();
        var deadline = Stopwatch.StartNew();
        var sampling = pending.Count > SampleSize;
        while (pending.Count > 0)
        {
            var asked = sampling ? Random.Shared.GetItems(CollectionsMarshal.AsSpan(pending), SampleSize).Distinct().ToList() : pending;
            var (stillPending, lastUnconsumedAnswer) = await UnconsumedAsync(connection, asked, lanes: sampling ? 2 : 8, progress, cancellationToken);
            if (stillPending.Count > 0)
            {
                lastPendingSeen = lastUnconsumedAnswer;
            }

            var consumed = asked.Except(stillPending).ToHashSet(StringComparer.Ordinal);
            pending.RemoveAll(consumed.Contains);
            if (pending.Count == 0)
            {
                break;
            }

            // A sample all consumed: the others are probably too, sweep them all.
            sampling = stillPending.Count > 0 && pending.Count > SampleSize;
            if (deadline.Elapsed > timeout)
            {
                return (false, lastPendingSeen);
            }

            if (stillPending.Count > 0)
            {
                await Task.Delay(sampling ? 100 : 200, cancellationToken);
            }
        }

        return (true, lastPendingSeen);
    }

    /// <summary>
    /// The queues of <paramref name="queues"/> that have no consumer (or do not exist yet), and when
    /// the last answer saying so arrived (<see cref="Stopwatch.GetTimestamp"/>).
    /// </summary>
    private static async Task<(IReadOnlyCollection<string> Unconsumed, long LastAnswerAt)> UnconsumedAsync(IConnection connection, List<string> queues, int lanes, IProgressStep progress, CancellationToken cancellationToken)
    {
        var unconsumed = new System.Collections.Concurrent.ConcurrentBag<string>();
        var lastAnswerAt = 0L;
        var gate = new Lock();
        void Unconsumed(string queue)
        {
            unconsumed.Add(queue);
            lock (gate)
            {
                lastAnswerAt = Math.Max(lastAnswerAt, Stopwatch.GetTimestamp());
            }
        }

        lanes = Math.Min(lanes, queues.Count);
        await Task.WhenAll(Enumerable.Range(0, lanes).Select(async lane =>
        {
            var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
            try
            {
                for (var i = lane; i < queues.Count; i += lanes)
                {
                    try
                    {
                        var ok = await channel.QueueDeclarePassiveAsync(queues[i], cancellationToken);
                        if (ok.ConsumerCount == 0)
                        {
                            Unconsumed(queues[i]);
                        }
                        else
                        {
                            progress.Increment();
                        }
                    }
                    catch (OperationInterruptedException)
                    {
                        // Not there (yet): a 404 closes the channel.
                        Unconsumed(queues[i]);
                        await channel.DisposeAsync();
                        channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
                    }
                }
            }
            finally
            {
                await channel.DisposeAsync();
            }
        }));
        return (unconsumed, lastAnswerAt);
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
