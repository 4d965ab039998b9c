using System.Diagnostics;
using System.Diagnostics.Metrics;
using RabbitMQ.Client;

namespace UserQueues.Messaging.Telemetry;

/// <summary>
/// Every span and every instrument UserQueues emits itself, in one place: the ActivitySource and
/// the Meter are both named <see cref="Name"/>, which ServiceDefaults registers for every service.
/// </summary>
/// <remarks>
/// Whose spans (issue 4): UserQueues owns the publish span (kind Producer), the delay forwarder's
/// span and the worker's process span (kind Consumer); RabbitMQ.Client 7's own tracing is switched
/// off in <c>AddUserQueuesMessaging</c>. The library injects <c>traceparent</c> only for a publish
/// span of its own, and its deliver span wraps only <c>HandleBasicDeliverAsync</c>, which hands the
/// delivery to the user's loop and returns: the span ends before the callback is even sent, it is
/// labelled a "process" operation (a duplicate of ours), and as the ambient
/// <see cref="Activity.Current"/> it would become the parent of whatever starts in a delivery
/// handler (a user loop started by a control command would parent every later callback to that
/// command). So the trace context is written and read here, in W3C form, in the AMQP headers
/// <see cref="MessageHeaders.TraceParent"/> and <see cref="MessageHeaders.TraceState"/>, which the
/// delay levels keep (dead-lettering keeps headers) and the forwarder carries on.
/// The callback's HTTP client span is System.Net.Http's own, a child of the process span.
/// </remarks>
public static class UserQueuesTelemetry
{
    /// <summary>The ActivitySource and Meter name (= <c>Extensions.TelemetryName</c> in ServiceDefaults).</summary>
    public const string Name = "UserQueues";

    /// <summary>The template of user queue names, low-cardinality for span names.</summary>
    public const string UserQueueTemplate = "queue.user.{userId}";

    public static readonly ActivitySource Source = new(Name);
    public static readonly Meter Meter = new(Name);

    // OpenTelemetry messaging semantic conventions (https://opentelemetry.io/docs/specs/semconv/messaging/).
    public const string MessagingSystem = "messaging.system";
    public const string MessagingOperationName = "messaging.operation.name";
    public const string MessagingOperationType = "messaging.operation.type";
    public const string MessagingDestinationName = "messaging.destination.name";
    public const string MessagingDestinationTemplate = "messaging.destination.template";
    public const string MessagingRoutingKey = "messaging.rabbitmq.destination.routing_key";
    public const string MessagingMessageId = "messaging.message.id";
    public const string MessagingBodySize = "messaging.message.body.size";

    // UserQueues' own attributes.
    public const string UserId = "userqueues.user_id";
    public const string Attempt = "userqueues.attempt";
    public const string Outcome = "userqueues.outcome";
    public const string CallbackStatusCode = "userqueues.callback.status_code";
    public const string StatusClass = "userqueues.callback.status_class";
    public const string Delayed = "userqueues.delayed";
    public const string RetryMode = "userqueues.retry.mode";
    public const string DeadLetterCause = "userqueues.dead_letter.cause";
    public const string QueueStatus = "userqueues.queue.status";

    /// <summary>Values of <see cref="Outcome"/>.</summary>
    public static class Outcomes
    {
        public const string Delivered = "delivered";
        public const string Retry = "retry";
        public const string DeadLettered = "dead_lettered";
        public const string Requeued = "requeued";
        public const string Abandoned = "abandoned";
    }

    private static readonly Counter<long> s_published = Meter.CreateCounter<long>(
        "userqueues.messages.published", "{message}", "Messages accepted by send-message (confirmed by the broker).");

    private static readonly Counter<long> s_delivered = Meter.CreateCounter<long>(
        "userqueues.messages.delivered", "{message}", "Messages whose callback answered 2xx.");

    private static readonly Counter<long> s_retried = Meter.CreateCounter<long>(
        "userqueues.messages.retried", "{message}", "Failed attempts that are tried again (through the delay levels, or in place for strict queues).");

    private static readonly Counter<long> s_deadLettered = Meter.CreateCounter<long>(
        "userqueues.messages.dead_lettered", "{message}", "Messages moved to the dead-letter queue.");

    private static readonly Counter<long> s_callbackFailures = Meter.CreateCounter<long>(
        "userqueues.callback.failures", "{attempt}", "Callback attempts that did not deliver, by status class (3xx, 4xx, 5xx, or none: no answer, refused).");

    private static readonly Histogram<double> s_callbackDuration = Meter.CreateHistogram<double>(
        "userqueues.callback.duration", "s", "Time of one callback attempt, from sending to the answer (or the failure).");

    private static readonly Histogram<double> s_lag = Meter.CreateHistogram<double>(
        "userqueues.message.lag", "s", "From send-message accepting the message to its callback answering 2xx (delays and retries included).");

    private static readonly Histogram<long> s_attempts = Meter.CreateHistogram<long>(
        "userqueues.message.attempts", "{attempt}", "Attempts a delivered message needed (1: the first one).");

    private static Func<WorkerFigures?>? s_workerFigures;

    static UserQueuesTelemetry()
    {
        Meter.CreateObservableGauge("userqueues.queue.messages.ready", () => Figure(f => f.Ready), "{message}",
            "Messages ready in the user queues this worker consumes (broker figures from a background snapshot).");
        Meter.CreateObservableGauge("userqueues.queue.messages.unacked", () => Figure(f => f.Unacked), "{message}",
            "Deliveries this worker holds unacknowledged (buffered or in flight).");
        Meter.CreateObservableGauge("userqueues.consumers.active", () => Figure(f => f.ActiveConsumers), "{consumer}",
            "User queues this worker consumes right now.");
        Meter.CreateObservableGauge("userqueues.queues", ObserveQueuesByStatus, "{queue}",
            "Queues in the registry, by desired consumer status (from a background snapshot).");
    }

    /// <summary>What the worker's gauges report; read on each collection, so it must be cheap.</summary>
    public sealed record WorkerFigures(long Ready, long Unacked, long ActiveConsumers, IReadOnlyDictionary<string, long> QueuesByStatus);

    /// <summary>Lets the worker feed the gauges. Without it (the API) they report nothing.</summary>
    public static void ObserveWorker(Func<WorkerFigures?> figures) => s_workerFigures = figures;

    private static IEnumerable<Measurement<long>> Figure(Func<WorkerFigures, long> pick) =>
        s_workerFigures?.Invoke() is { } figures ? [new Measurement<long>(pick(figures))] : [];

    private static IEnumerable<Measurement<long>> ObserveQueuesByStatus() =>
        s_workerFigures?.Invoke() is { } figures
            ? figures.QueuesByStatus.Select(pair => new Measurement<long>(pair.Value, new KeyValuePair<string, object?>(QueueStatus, pair.Key)))
            : [];

    // ---- Spans ----

    /// <summary>
    /// The publish span (kind Producer) around one confirmed publish, a child of the current span
    /// (send-message, the forwarder's span, or the process span for a retry or dead letter). Its
    /// context goes into <paramref name="headers"/>; with no span (not sampled, nobody listening)
    /// the current context, else the one the message carried, goes there instead, so the trace
    /// is never cut.
    /// </summary>
    public static Activity? StartPublish(string exchange, string routingKey, BasicProperties properties, int bodySize, ActivityContext carried)
    {
        var activity = Source.StartActivity($"publish {exchange}", ActivityKind.Producer);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(MessagingSystem, "rabbitmq")
                .SetTag(MessagingOperationName, "publish")
                .SetTag(MessagingOperationType, "send")
                .SetTag(MessagingDestinationName, exchange)
                .SetTag(MessagingRoutingKey, routingKey)
                .SetTag(MessagingMessageId, properties.MessageId)
                .SetTag(MessagingBodySize, bodySize);
            if (UserMessage.HeaderString(properties.Headers, MessageHeaders.UserId) is { } userId)
            {
                activity.SetTag(UserId, userId);
            }

            if (UserMessage.HeaderLong(properties.Headers, MessageHeaders.Attempt) is { } attempt)
            {
                activity.SetTag(Attempt, (int)Math.Clamp(attempt, 1, int.MaxValue));
            }
        }

        if (properties.Headers is { } headers)
        {
            Inject(activity?.Context ?? Activity.Current?.Context ?? carried, headers);
        }

        return activity;
    }

    /// <summary>
    /// The worker's process span (kind Consumer) of one delivery attempt: its parent is the publish
    /// context the message carried, never an ambient span; a retry links to the attempt before it.
    /// </summary>
    public static Activity? StartProcess(UserMessage message, ActivityContext previousAttempt = default)
    {
        var queue = Topology.QueueName(message.UserId);
        var tags = new ActivityTagsCollection
        {
            [MessagingSystem] = "rabbitmq",
            [MessagingOperationName] = "process",
            [MessagingOperationType] = "process",
            [MessagingDestinationName] = queue,
            [MessagingDestinationTemplate] = UserQueueTemplate,
            [MessagingRoutingKey] = Topology.RoutingKey(message.UserId),
            [MessagingMessageId] = message.MessageId,
            [MessagingBodySize] = message.Payload.Length,
            [UserId] = message.UserId,
            [Attempt] = message.Attempt,
        };
        var previous = previousAttempt != default ? previousAttempt : message.PreviousAttempt;
        ActivityLink[]? links = previous != default ? [new ActivityLink(previous)] : null;
        return StartDetached($"process {UserQueueTemplate}", ActivityKind.Consumer, message.TraceContext, tags, links);
    }

    /// <summary>The delay forwarder's span (kind Consumer): a delayed message leaves the delay levels for its user's queue.</summary>
    public static Activity? StartForward(UserMessage message)
    {
        var tags = new ActivityTagsCollection
        {
            [MessagingSystem] = "rabbitmq",
            [MessagingOperationName] = "forward",
            [MessagingOperationType] = "process",
            [MessagingDestinationName] = Topology.DelayReadyQueue,
            [MessagingMessageId] = message.MessageId,
            [UserId] = message.UserId,
            [Attempt] = message.Attempt,
        };
        return StartDetached($"forward {Topology.DelayReadyQueue}", ActivityKind.Consumer, message.TraceContext, tags, null);
    }

    /// <summary>
    /// Starts a span whose parent is <paramref name="parent"/> only: with no parent it is a new
    /// root, not a child of whatever span happens to be current on this thread.
    /// </summary>
    private static Activity? StartDetached(string name, ActivityKind kind, ActivityContext parent, ActivityTagsCollection tags, IEnumerable<ActivityLink>? links)
    {
        var ambient = Activity.Current;
        Activity.Current = null;
        var activity = Source.StartActivity(name, kind, parent, tags, links);
        if (activity is null)
        {
            Activity.Current = ambient;
        }

        return activity;
    }

    /// <summary>Records how an attempt ended on its process span.</summary>
    public static void SetOutcome(Activity? activity, string outcome, int? statusCode)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetTag(Outcome, outcome);
        if (statusCode is { } status)
        {
            activity.SetTag(CallbackStatusCode, status);
        }

        if (outcome is Outcomes.DeadLettered or Outcomes.Requeued)
        {
            activity.SetStatus(ActivityStatusCode.Error, outcome);
        }
    }

    // ---- W3C trace context in AMQP headers (https://www.w3.org/TR/trace-context/) ----

    /// <summary>Writes <paramref name="context"/> as <c>traceparent</c>/<c>tracestate</c>; nothing for an empty context.</summary>
    public static void Inject(ActivityContext context, IDictionary<string, object?> headers)
    {
        if (context == default)
        {
            return;
        }

        headers[MessageHeaders.TraceParent] = TraceParent(context);
        if (!string.IsNullOrEmpty(context.TraceState))
        {
            headers[MessageHeaders.TraceState] = context.TraceState;
        }
        else
        {
            headers.Remove(MessageHeaders.TraceState);
        }
    }

    /// <summary>Reads the context a message carries; default when it carries none (or a malformed one).</summary>
    public static ActivityContext Extract(IDictionary<string, object?>? headers) =>
        UserMessage.HeaderString(headers, MessageHeaders.TraceParent) is { } traceParent
        && ActivityContext.TryParse(traceParent, UserMessage.HeaderString(headers, MessageHeaders.TraceState), isRemote: true, out var context)
            ? context
            : default;

    /// <summary>The W3C <c>traceparent</c> of a context.</summary>
    public static string TraceParent(ActivityContext context) =>
        $"00-{context.TraceId.ToHexString()}-{context.SpanId.ToHexString()}-{(context.TraceFlags.HasFlag(ActivityTraceFlags.Recorded) ? "01" : "00")}";

    // ---- Metrics ----

    public static void Published(bool delayed) =>
        s_published.Add(1, new KeyValuePair<string, object?>(Delayed, delayed));

    /// <summary>One callback attempt: its duration, and a failure by status class when it did not deliver.</summary>
    public static void CallbackAttempt(TimeSpan duration, int? statusCode, bool delivered)
    {
        var statusClass = StatusClassOf(statusCode);
        s_callbackDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>(StatusClass, statusClass));
        if (!delivered)
        {
            s_callbackFailures.Add(1, new KeyValuePair<string, object?>(StatusClass, statusClass));
        }
    }

    public static void Delivered(UserMessage message, DateTimeOffset now)
    {
        s_delivered.Add(1);
        s_lag.Record(Math.Max(0, (now - message.PublishedAt).TotalSeconds));
        s_attempts.Record(message.Attempt);
    }

    /// <param name="inPlace">Strict ordering: retried in place, not through the delay levels.</param>
    public static void Retried(bool inPlace) =>
        s_retried.Add(1, new KeyValuePair<string, object?>(RetryMode, inPlace ? "in_place" : "delay_levels"));

    /// <param name="exhausted">Every attempt was used (else: a permanent failure).</param>
    public static void DeadLettered(bool exhausted) =>
        s_deadLettered.Add(1, new KeyValuePair<string, object?>(DeadLetterCause, exhausted ? "attempts_exhausted" : "permanent"));

    /// <summary>"2xx" … "5xx", or "none" when there was no HTTP answer (timeout, connection error, refused destination).</summary>
    public static string StatusClassOf(int? statusCode) => statusCode switch
    {
        >= 100 and <= 599 and var code => $"{code / 100}xx",
        _ => "none",
    };
}
