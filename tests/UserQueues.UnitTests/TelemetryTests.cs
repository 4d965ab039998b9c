using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using UserQueues.Messaging;
using UserQueues.Messaging.Telemetry;

namespace UserQueues.UnitTests;

/// <summary>
/// Spans and metrics are process-wide (every ActivitySource and Meter named UserQueues), so these
/// tests run alone, after the parallel ones: nothing else records meanwhile.
/// </summary>
[CollectionDefinition(nameof(TelemetryTestGroup), DisableParallelization = true)]
public sealed class TelemetryTestGroup;

/// <summary>
/// One trace per message, through the real send and delivery code (broker in memory), collected
/// by OpenTelemetry's in-memory exporter: send-message → publish (Producer) → [delay hop] →
/// process (Consumer) → the callback's HTTP client span, whose traceparent reaches the receiver.
/// </summary>
[Collection(nameof(TelemetryTestGroup))]
public sealed class TelemetryTests : IAsyncDisposable
{
    private readonly LockedCollection<Activity> _spans = new();
    private readonly LockedCollection<MetricSnapshot> _metrics = new();
    private readonly DeliveryPipeline _pipeline = new();
    private readonly TracerProvider _tracing;
    private readonly MeterProvider _meters;

    public TelemetryTests()
    {
        _tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(UserQueuesTelemetry.Name, DeliveryPipeline.RequestSourceName)
            .AddHttpClientInstrumentation()
            .AddInMemoryExporter(_spans)
            .Build()!;
        _meters = Sdk.CreateMeterProviderBuilder()
            .AddMeter(UserQueuesTelemetry.Name)
            .AddInMemoryExporter(_metrics)
            .Build()!;
    }

    public async ValueTask DisposeAsync()
    {
        await _pipeline.DisposeAsync();
        _tracing.Dispose();
        _meters.Dispose();
    }

    [Fact]
    public void ServiceDefaultsRegisterTheNameTheInstrumentsUse() =>
        // Api has an Extensions class of the same name, hence reflection on ServiceDefaults' assembly.
        Assert.Equal(UserQueuesTelemetry.Name, typeof(Microsoft.Extensions.Hosting.SeedEnvironment).Assembly
            .GetType("Microsoft.Extensions.Hosting.Extensions")!.GetField("TelemetryName")!.GetRawConstantValue());

    [Fact]
    public async Task PublishAndProcessShareTheTraceAndTheCallbackIsAChildOfTheProcessSpan()
    {
        await _pipeline.StartAsync();
        var (request, messageId) = await _pipeline.SendAsync("trace-direct", "ok/direct");
        var call = await SingleCallbackAsync(messageId);

        var trace = TraceOf(request, call);
        var publish = Single(trace, s => s.Kind == ActivityKind.Producer);
        Assert.Equal(request.SpanId, publish.ParentSpanId);
        Assert.Equal("publish user_exchange", publish.DisplayName);
        AssertTags(publish, ("messaging.system", "rabbitmq"), ("messaging.operation.name", "publish"), ("messaging.operation.type", "send"),
            ("messaging.destination.name", "user_exchange"), ("messaging.rabbitmq.destination.routing_key", "user.trace-direct"),
            ("messaging.message.id", messageId), ("userqueues.user_id", "trace-direct"));

        var process = Single(trace, s => s.Kind == ActivityKind.Consumer);
        Assert.Equal(publish.SpanId, process.ParentSpanId);
        Assert.Equal("process queue.user.{userId}", process.DisplayName);
        AssertTags(process, ("messaging.system", "rabbitmq"), ("messaging.operation.name", "process"),
            ("messaging.destination.name", "queue.user.trace-direct"), ("messaging.rabbitmq.destination.routing_key", "user.trace-direct"),
            ("messaging.message.id", messageId), ("userqueues.user_id", "trace-direct"), ("userqueues.attempt", 1),
            ("userqueues.outcome", "delivered"), ("userqueues.callback.status_code", 200));
        Assert.Empty(process.Links);

        var http = Single(trace, s => s.Kind == ActivityKind.Client);
        Assert.Equal(process.SpanId, http.ParentSpanId);
        Assert.Equal($"00-{request.TraceId}-{http.SpanId}-01", call.TraceParent);
        Assert.DoesNotContain(_spans.Snapshot(), s => s.DisplayName == "unrelated control command" && trace.Any(t => t.ParentSpanId == s.SpanId));
    }

    [Fact]
    public async Task ADelayedMessageKeepsItsTraceThroughTheDelayLevelsAndTheForwarder()
    {
        await _pipeline.StartAsync();
        var (request, messageId) = await _pipeline.SendAsync("trace-delayed", "ok/delayed", delaySeconds: 5);
        var call = await SingleCallbackAsync(messageId);

        var trace = TraceOf(request, call);
        var intoDelay = Single(trace, s => s.DisplayName == "publish user_delay.19");
        Assert.Equal(request.SpanId, intoDelay.ParentSpanId);
        Assert.Equal(ActivityKind.Producer, intoDelay.Kind);
        var forward = Single(trace, s => s.DisplayName == "forward queue.delay_ready");
        Assert.Equal(intoDelay.SpanId, forward.ParentSpanId);
        Assert.Equal(ActivityKind.Consumer, forward.Kind);
        var intoQueue = Single(trace, s => s.DisplayName == "publish user_exchange");
        Assert.Equal(forward.SpanId, intoQueue.ParentSpanId);
        var process = Single(trace, s => s.DisplayName == "process queue.user.{userId}");
        Assert.Equal(intoQueue.SpanId, process.ParentSpanId);
        Assert.Equal(process.SpanId, Single(trace, s => s.Kind == ActivityKind.Client).ParentSpanId);
    }

    [Fact]
    public async Task ARetriedMessageHasOneProcessSpanPerAttemptInTheSameTraceEachLinkedToThePreviousOne()
    {
        await _pipeline.StartAsync();
        var (request, messageId) = await _pipeline.SendAsync("trace-retried", "flaky/retried");
        var calls = await CallbackAsync(messageId, 2);

        var trace = TraceOf(request, calls[^1]);
        Assert.Equal(request.TraceId.ToHexString(), calls[0].TraceParent!.Split('-')[1]);
        var attempts = trace.Where(s => s.DisplayName == "process queue.user.{userId}").OrderBy(s => s.StartTimeUtc).ToList();
        Assert.Equal(2, attempts.Count);
        var (first, second) = (attempts[0], attempts[1]);
        AssertTags(first, ("userqueues.attempt", 1), ("userqueues.outcome", "retry"), ("userqueues.callback.status_code", 503));
        AssertTags(second, ("userqueues.attempt", 2), ("userqueues.outcome", "delivered"), ("userqueues.callback.status_code", 200));

        // The retry copy is published from within the first attempt and travels the delay levels.
        var retryPublish = Single(trace, s => s.Kind == ActivityKind.Producer && s.ParentSpanId == first.SpanId);
        Assert.Equal("publish user_delay.19", retryPublish.DisplayName);
        AssertTags(retryPublish, ("userqueues.attempt", 2));
        var link = Assert.Single(second.Links);
        Assert.Equal(first.Context.TraceId, link.Context.TraceId);
        Assert.Equal(first.Context.SpanId, link.Context.SpanId);
        Assert.All(attempts, a => Assert.Single(trace, s => s.Kind == ActivityKind.Client && s.ParentSpanId == a.SpanId));
    }

    [Fact]
    public async Task TheMetricsCountAScriptedScenario()
    {
        await _pipeline.StartAsync();
        UserQueuesTelemetry.ObserveWorker(() => new UserQueuesTelemetry.WorkerFigures(7, 2, 3,
            new Dictionary<string, long> { ["running"] = 4, ["stopped"] = 1 }));

        // 3 delivered at once, 1 retried then delivered, 1 dead-lettered (HTTP 400 is permanent).
        var ids = new List<string>();
        foreach (var path in new[] { "ok/m1", "ok/m2", "ok/m3", "flaky/m4", "bad/m5" })
        {
            ids.Add((await _pipeline.SendAsync("metrics", path)).MessageId);
        }

        await DeliveryPipeline.WaitUntilAsync(() => _pipeline.Calls.Count(c => ids.Contains(c.WebhookId)) == 6 && _pipeline.DeadLetters.Count == 1,
            "6 callbacks (5 messages, one retried) and 1 dead letter");
        // The handler records its metrics just before the ack; the ack of the last message closes the scenario.
        await DeliveryPipeline.WaitUntilAsync(() => Sum("userqueues.messages.delivered") == 4 && Sum("userqueues.messages.dead_lettered") == 1,
            "the last delivery and dead letter recorded");

        Assert.Equal(5, Sum("userqueues.messages.published", ("userqueues.delayed", false)));
        Assert.Equal(4, Sum("userqueues.messages.delivered"));
        Assert.Equal(1, Sum("userqueues.messages.retried", ("userqueues.retry.mode", "delay_levels")));
        Assert.Equal(1, Sum("userqueues.messages.dead_lettered", ("userqueues.dead_letter.cause", "permanent")));
        Assert.Equal(1, Sum("userqueues.callback.failures", ("userqueues.callback.status_class", "5xx")));
        Assert.Equal(1, Sum("userqueues.callback.failures", ("userqueues.callback.status_class", "4xx")));
        Assert.Equal(2, Sum("userqueues.callback.failures"));

        var (durations, _) = Histogram("userqueues.callback.duration");
        Assert.Equal(6, durations);
        var (attempts, attemptSum) = Histogram("userqueues.message.attempts");
        Assert.Equal((4, 5.0), (attempts, attemptSum)); // 1 + 1 + 1 + 2
        var (lags, lagSum) = Histogram("userqueues.message.lag");
        Assert.Equal(4, lags);
        Assert.InRange(lagSum, 0, 4 * 20);

        Assert.Equal(7, Gauge("userqueues.queue.messages.ready"));
        Assert.Equal(2, Gauge("userqueues.queue.messages.unacked"));
        Assert.Equal(3, Gauge("userqueues.consumers.active"));
        Assert.Equal(4, Gauge("userqueues.queues", ("userqueues.queue.status", "running")));
        Assert.Equal(1, Gauge("userqueues.queues", ("userqueues.queue.status", "stopped")));

        // No per-user label anywhere.
        Assert.DoesNotContain(Latest().SelectMany(m => m.MetricPoints), p => HasTag(p, "userqueues.user_id"));
    }

    [Fact]
    public void TheTraceContextRoundTripsThroughHeaders()
    {
        var context = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded, "vendor=1");
        var headers = new Dictionary<string, object?>();
        UserQueuesTelemetry.Inject(context, headers);

        Assert.Equal($"00-{context.TraceId}-{context.SpanId}-01", headers[MessageHeaders.TraceParent]);
        var delivered = headers.ToDictionary(h => h.Key, h => (object?)System.Text.Encoding.UTF8.GetBytes((string)h.Value!));
        var back = UserQueuesTelemetry.Extract(delivered);
        Assert.Equal((context.TraceId, context.SpanId, context.TraceFlags, "vendor=1", true), (back.TraceId, back.SpanId, back.TraceFlags, back.TraceState, back.IsRemote));
        Assert.Equal(default, UserQueuesTelemetry.Extract(new Dictionary<string, object?> { [MessageHeaders.TraceParent] = "garbage" }));
    }

    private async Task<ReceivedCall> SingleCallbackAsync(string messageId) => (await CallbackAsync(messageId, count: 1))[0];

    private async Task<IReadOnlyList<ReceivedCall>> CallbackAsync(string messageId, int count)
    {
        await DeliveryPipeline.WaitUntilAsync(() => _pipeline.Calls.Count(c => c.WebhookId == messageId) == count
                && ProcessSpansEnded(messageId) == count,
            $"{count} callback(s) of {messageId} and their process spans ended");
        return [.. _pipeline.Calls.Where(c => c.WebhookId == messageId)];
    }

    private int ProcessSpansEnded(string messageId)
    {
        return _spans.Snapshot().Count(s => s.Kind == ActivityKind.Consumer && (string?)s.GetTagItem("messaging.message.id") == messageId
            && s.DisplayName.StartsWith("process", StringComparison.Ordinal));
    }

    /// <summary>Every exported span of the request's trace; the receiver saw that trace too.</summary>
    private List<Activity> TraceOf(ActivityContext request, ReceivedCall call)
    {
        _tracing.ForceFlush();
        Assert.NotNull(call.TraceParent);
        Assert.Equal(request.TraceId.ToHexString(), call.TraceParent!.Split('-')[1]);
        return [.. _spans.Snapshot().Where(s => s.TraceId == request.TraceId)];
    }

    private static Activity Single(List<Activity> trace, Func<Activity, bool> which) => Assert.Single(trace, s => which(s));

    private static void AssertTags(Activity span, params (string Key, object Value)[] expected)
    {
        foreach (var (key, value) in expected)
        {
            Assert.True(Equals(value, span.GetTagItem(key)), $"{span.DisplayName}: {key} is {span.GetTagItem(key) ?? "missing"}, expected {value}");
        }
    }

    private List<MetricSnapshot> Latest()
    {
        _meters.ForceFlush();
        return [.. _metrics.Snapshot().GroupBy(m => m.Name).Select(g => g.Last())];
    }

    private IEnumerable<MetricPoint> Points(string name, (string Key, object Value)[] tags) =>
        Latest().Where(m => m.Name == name).SelectMany(m => m.MetricPoints)
            .Where(p => tags.All(t => HasTag(p, t.Key, t.Value)));

    private long Sum(string name, params (string Key, object Value)[] tags) => Points(name, tags).Sum(p => p.GetSumLong());

    private (long Count, double Sum) Histogram(string name)
    {
        var points = Points(name, []).ToList();
        return (points.Sum(p => p.GetHistogramCount()), points.Sum(p => p.GetHistogramSum()));
    }

    private long Gauge(string name, params (string Key, object Value)[] tags) => Assert.Single(Points(name, tags)).GetGaugeLastValueLong();

    private static bool HasTag(MetricPoint point, string key, object? value = null)
    {
        foreach (var tag in point.Tags)
        {
            if (tag.Key == key && (value is null || Equals(tag.Value, value)))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>What the in-memory exporters write into: they add from whichever thread ends a span.</summary>
public sealed class LockedCollection<T> : ICollection<T>
{
    private readonly List<T> _items = [];

    public int Count
    {
        get
        {
            lock (_items)
            {
                return _items.Count;
            }
        }
    }

    public bool IsReadOnly => false;

    public List<T> Snapshot()
    {
        lock (_items)
        {
            return [.. _items];
        }
    }

    public void Add(T item)
    {
        lock (_items)
        {
            _items.Add(item);
        }
    }

    public void Clear()
    {
        lock (_items)
        {
            _items.Clear();
        }
    }

    public bool Contains(T item) => Snapshot().Contains(item);

    public void CopyTo(T[] array, int arrayIndex) => Snapshot().CopyTo(array, arrayIndex);

    public bool Remove(T item)
    {
        lock (_items)
        {
            return _items.Remove(item);
        }
    }

    public IEnumerator<T> GetEnumerator() => Snapshot().GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
