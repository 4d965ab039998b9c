using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;

namespace UserQueues.Api.Apis;

/// <summary>
/// The seed's admin endpoints (<c>/admin/*</c>, header <c>x-api-key</c>) plus start-all, paging and
/// the audit trail. Desired consumer state is written to the registry first (so a restarted worker
/// obeys it), then announced on <c>user_control</c> so every worker replica acts within a second.
/// </summary>
internal static class AdminApi
{
    private const int EnvelopeBytes = 16 * 1024;
    private const int MaxPageSize = 500;
    private static readonly TimeSpan LiveFiguresTimeout = TimeSpan.FromSeconds(2);

    /// <summary>A group of admin endpoints: the <c>x-api-key</c> filter, its 401, the Admin tag, set once for all.</summary>
    internal static RouteGroupBuilder MapAdminGroup(this IEndpointRouteBuilder app, string prefix)
    {
        var group = app.MapGroup(prefix).WithTags("Admin").AddEndpointFilter<AdminApiKeyFilter>();
        group.ProducesProblem(StatusCodes.Status401Unauthorized);
        return group;
    }

    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapAdminGroup("/admin");

        admin.MapPost("/stop-consumer", StopConsumer)
            .WithName("StopConsumer")
            .WithSummary("Stops consuming a user's queue on every worker; messages accumulate until start-consumer.")
            .Accepts<AdminUserRequest>("application/json")
            .ProducesProblem(StatusCodes.Status404NotFound);
        admin.MapPost("/start-consumer", StartConsumer)
            .WithName("StartConsumer")
            .WithSummary("Resumes consuming a user's queue; waiting messages are delivered in order.")
            .Accepts<AdminUserRequest>("application/json")
            .ProducesProblem(StatusCodes.Status404NotFound);
        admin.MapPost("/reset-queue", ResetQueue)
            .WithName("ResetQueue")
            .WithSummary("Purges the ready messages of a user's queue.")
            .Accepts<AdminUserRequest>("application/json")
            .ProducesProblem(StatusCodes.Status404NotFound);
        admin.MapPost("/stop-all", StopAll)
            .WithName("StopAll")
            .WithSummary("Stops every consumer (one registry update, one control command).");
        admin.MapPost("/start-all", StartAll)
            .WithName("StartAll")
            .WithSummary("Starts every consumer (one registry update, one control command).");
        admin.MapPost("/reset-all", ResetAll)
            .WithName("ResetAll")
            .WithSummary("Purges the ready messages of every user queue, over several channels at once.");
        admin.MapGet("/queues", ListQueues)
            .WithName("ListQueues")
            .WithSummary("One page of queues: registry metadata and counters with live broker figures, plus totals.");
        admin.MapGet("/queues/{userId}", GetQueue)
            .WithName("GetQueue")
            .WithSummary("One queue: settings, counters and live broker figures.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        admin.MapGet("/audit", ListAudit)
            .WithName("ListAudit")
            .WithSummary("The admin actions, newest first, paged.");

        return app;
    }

    public static Task<Results<Ok<ConsumerActionResponse>, ValidationProblem, ProblemHttpResult>> StopConsumer(
        HttpContext context, [AsParameters] AdminServices services, CancellationToken cancellationToken) =>
        WithUserIdAsync<ConsumerActionResponse>(context, async userId =>
        {
            if (!await services.Registry.SetStatusAsync(userId, ConsumerStatus.Stopped, cancellationToken))
            {
                return UnknownUser(userId);
            }

            await services.Publisher.PublishControlAsync(new ControlCommand(ControlAction.Unsubscribe, userId), cancellationToken);
            await AuditAsync(context, services, "stop-consumer", userId, null, cancellationToken);
            return TypedResults.Ok(new ConsumerActionResponse(true, userId, "stopped"));
        }, cancellationToken);

    public static Task<Results<Ok<ConsumerActionResponse>, ValidationProblem, ProblemHttpResult>> StartConsumer(
        HttpContext context, [AsParameters] AdminServices services, CancellationToken cancellationToken) =>
        WithUserIdAsync<ConsumerActionResponse>(context, async userId =>
        {
            if (!await services.Registry.SetStatusAsync(userId, ConsumerStatus.Running, cancellationToken))
            {
                return UnknownUser(userId);
            }

            // Declares the queue again if it expired meanwhile, and tells every worker to subscribe.
            await services.Provisioner.EnsureAsync(userId, ttlMs: null, ordering: null, cancellationToken);
            await AuditAsync(context, services, "start-consumer", userId, null, cancellationToken);
            return TypedResults.Ok(new ConsumerActionResponse(true, userId, "running"));
        }, cancellationToken);

    public static Task<Results<Ok<ResetQueueResponse>, ValidationProblem, ProblemHttpResult>> ResetQueue(
        HttpContext context, [AsParameters] AdminServices services, CancellationToken cancellationToken) =>
        WithUserIdAsync<ResetQueueResponse>(context, async userId =>
        {
            if (await services.Registry.FindAsync(userId, cancellationToken) is null)
            {
                return UnknownUser(userId);
            }

            var purged = await services.Queues.PurgeAsync(userId, cancellationToken) ?? 0;
            await AuditAsync(context, services, "reset-queue", userId, $"purged {purged} ready message(s)", cancellationToken);
            return TypedResults.Ok(new ResetQueueResponse(true, userId, purged));
        }, cancellationToken);

    public static Task<Ok<AllActionResponse>> StopAll(HttpContext context, [AsParameters] AdminServices services, CancellationToken cancellationToken) =>
        SetAllAsync(context, services, ConsumerStatus.Stopped, ControlCommand.StopAll, "stop-all", "stopped", cancellationToken);

    public static Task<Ok<AllActionResponse>> StartAll(HttpContext context, [AsParameters] AdminServices services, CancellationToken cancellationToken) =>
        SetAllAsync(context, services, ConsumerStatus.Running, ControlCommand.StartAll, "start-all", "started", cancellationToken);

    /// <summary>stop-all / start-all: one registry update, one control command for every worker, audited.</summary>
    private static async Task<Ok<AllActionResponse>> SetAllAsync(HttpContext context, AdminServices services, ConsumerStatus status,
        ControlCommand command, string action, string pastTense, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var changed = await services.Registry.SetAllStatusAsync(status, cancellationToken);
        await services.Publisher.PublishControlAsync(command, cancellationToken);
        var totals = await services.Registry.TotalsAsync(cancellationToken);
        await AuditAsync(context, services, action, null, $"{changed} of {totals.Queues} queue(s) {pastTense}", cancellationToken);
        return TypedResults.Ok(new AllActionResponse(true, totals.Queues, changed, 0, watch.ElapsedMilliseconds));
    }

    public static async Task<Ok<AllActionResponse>> ResetAll(HttpContext context, [AsParameters] AdminServices services, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var queues = await services.Registry.ListAsync(status: null, cancellationToken);
        var (purged, missing) = await services.Queues.PurgeManyAsync([.. queues.Select(q => q.UserId)], cancellationToken);
        await AuditAsync(context, services, "reset-all", null,
            $"purged {purged} ready message(s) from {queues.Count - missing} queue(s) ({missing} not on the broker)", cancellationToken);
        return TypedResults.Ok(new AllActionResponse(true, queues.Count, queues.Count - missing, purged, watch.ElapsedMilliseconds));
    }

    public static async Task<Results<Ok<QueueListResponse>, ValidationProblem>> ListQueues(
        [AsParameters] QueueListParameters parameters, [AsParameters] AdminServices services, CancellationToken cancellationToken)
    {
        if (parameters.Validate(out var query, out var liveSort) is { } errors)
        {
            return TypedResults.ValidationProblem(errors, title: "The query is not valid", detail: "Fix the parameters listed in 'errors'.");
        }

        var snapshot = services.Snapshot.Current;
        QueuePage page;
        if (liveSort is { } sort)
        {
            // Ordering by a broker figure: the matching records (registry, cheap even at 10,000)
            // ordered by the background snapshot, then one page of them.
            var all = await services.Registry.QueryAsync(query with { Page = 1, PageSize = int.MaxValue }, cancellationToken);
            var ordered = all.Items.OrderBy(r => sort.Key(snapshot.Queues.GetValueOrDefault(r.UserId)) * (sort.Descending ? -1 : 1))
                .ThenBy(r => r.UserId, StringComparer.Ordinal);
            page = new QueuePage([.. ordered.Skip((query.Page - 1) * query.PageSize).Take(query.PageSize)], all.Total);
        }
        else
        {
            page = await services.Registry.QueryAsync(query, cancellationToken);
        }

        var live = await LiveFiguresAsync(services, [.. page.Items.Select(r => r.UserId)], cancellationToken);
        var totals = await services.Registry.TotalsAsync(cancellationToken);
        return TypedResults.Ok(new QueueListResponse(
            Success: true,
            Page: query.Page,
            PageSize: query.PageSize,
            Total: page.Total,
            Totals: TotalsOf(totals, snapshot),
            Snapshot: SnapshotInfo.Of(snapshot, services.Time),
            LiveFigures: live is null ? "snapshot" : "broker",
            Queues: [.. page.Items.Select(r => QueueView.Of(r, snapshot, live))]));
    }

    public static async Task<Results<Ok<QueueDetailResponse>, ProblemHttpResult>> GetQueue(
        string userId, [AsParameters] AdminServices services, CancellationToken cancellationToken)
    {
        if (!UserIds.IsValid(userId) || await services.Registry.FindAsync(userId, cancellationToken) is not { } record)
        {
            return UnknownUser(userId);
        }

        var snapshot = services.Snapshot.Current;
        var live = await LiveFiguresAsync(services, [userId], cancellationToken);
        return TypedResults.Ok(new QueueDetailResponse(true, QueueView.Of(record, snapshot, live), SnapshotInfo.Of(snapshot, services.Time)));
    }

    public static async Task<Ok<AuditListResponse>> ListAudit(
        int? page, int? pageSize, [AsParameters] AdminServices services, CancellationToken cancellationToken)
    {
        var size = Math.Clamp(pageSize ?? 50, 1, MaxPageSize);
        var number = Math.Max(1, page ?? 1);
        var entries = await services.Audit.ListAsync(number, size, cancellationToken);
        return TypedResults.Ok(new AuditListResponse(true, number, size, entries.Total,
            [.. entries.Items.Select(e => new AuditView(e.Id, e.At, e.Actor, e.Action, e.Target, e.Detail))]));
    }

    /// <summary>Ready and consumers of the page's queues, current to the moment; null when the broker did not answer in time.</summary>
    private static async Task<IReadOnlyDictionary<string, LiveQueueFigures>?> LiveFiguresAsync(
        AdminServices services, IReadOnlyCollection<string> userIds, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(LiveFiguresTimeout);
        try
        {
            return await services.Queues.InspectManyAsync(userIds, timeout.Token);
        }
        // The channel pool reports "no broker" as BrokerUnavailableException; other AMQP failures as themselves.
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is OperationCanceledException || e is BrokerUnavailableException || AmqpFailure(e))
        {
            // The page still answers, with the background snapshot's figures (it says so).
            return null;
        }
    }

    private static bool AmqpFailure(Exception e) => e is RabbitMQ.Client.Exceptions.RabbitMQClientException or RabbitMQ.Client.Exceptions.OperationInterruptedException or IOException;

    private static QueueTotals TotalsOf(RegistryTotals totals, BrokerSnapshot snapshot)
    {
        long ready = 0, unacked = 0, consumers = 0;
        double publishRate = 0, deliverRate = 0;
        foreach (var figures in snapshot.Queues.Values)
        {
            ready += figures.Ready;
            unacked += figures.Unacked;
            consumers += figures.Consumers;
            publishRate += figures.PublishRate;
            deliverRate += figures.DeliverRate;
        }

        return new QueueTotals(totals.Queues, totals.Running, totals.Stopped, totals.Published, totals.Delivered, 0, totals.Failed,
            ready, unacked, consumers, Math.Round(publishRate, 2), Math.Round(deliverRate, 2));
    }

    private static async Task AuditAsync(HttpContext context, AdminServices services, string action, string? target, string? detail, CancellationToken cancellationToken) =>
        await services.Audit.AppendAsync(new AuditEntry(services.Time.GetUtcNow(), AdminApiKeyFilter.ActorOf(context), action, target, detail), cancellationToken);

    internal static ProblemHttpResult UnknownUser(string userId) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound,
        title: "Unknown user",
        detail: $"No queue is registered for userId '{userId}'. Create it with POST /create-queue (or send it a message) first.");

    /// <summary>Reads and validates the <c>{ "userId": ... }</c> body of an admin command, then runs it.</summary>
    internal static async Task<Results<Ok<T>, ValidationProblem, ProblemHttpResult>> WithUserIdAsync<T>(
        HttpContext context, Func<string, Task<Results<Ok<T>, ValidationProblem, ProblemHttpResult>>> action, CancellationToken cancellationToken)
    {
        var read = await ReadUserIdAsync(context.Request, cancellationToken);
        return read.UserId is { } userId ? await action(userId) : read.Problem switch
        {
            ValidationProblem validation => validation,
            ProblemHttpResult problem => problem,
            _ => throw new UnreachableException(),
        };
    }

    private static async Task<(string? UserId, IResult? Problem)> ReadUserIdAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var (document, problem) = await JsonBody.ReadAsync(request, EnvelopeBytes, cancellationToken);
        if (problem is not null)
        {
            return (null, problem);
        }

        using (document)
        {
            var root = document!.RootElement;
            var userId = root.TryGetProperty("userId", out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            if (UserIds.Validate(userId) is { } error)
            {
                return (null, TypedResults.ValidationProblem(
                    new Dictionary<string, string[]> { ["userId"] = [error] },
                    title: "The request is not valid",
                    detail: "Nothing was changed. Send {\"userId\":\"...\"} with the user's id."));
            }

            return (userId, null);
        }
    }
}

/// <summary>What the admin endpoints use.</summary>
internal sealed record AdminServices(
    IQueueRegistry Registry,
    IAuditLog Audit,
    MessagePublisher Publisher,
    UserQueueProvisioner Provisioner,
    QueueAdministration Queues,
    BrokerSnapshotService Snapshot,
    TimeProvider Time);
