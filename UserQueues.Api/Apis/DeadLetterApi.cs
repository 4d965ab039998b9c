using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;

namespace UserQueues.Api.Apis;

/// <summary>
/// Dead letters, browsable and replayable per user (admin auth, <c>x-api-key</c>):
/// <c>GET /admin/dead-letters?userId=…</c>, <c>POST /admin/dead-letters/replay {userId, messageIds?}</c>,
/// <c>POST /admin/dead-letters/purge {userId}</c>.
/// </summary>
internal static class DeadLetterApi
{
    private const int EnvelopeBytes = 256 * 1024;
    private const int MaxPageSize = 500;

    public static IEndpointRouteBuilder MapDeadLetterApi(this IEndpointRouteBuilder app)
    {
        var deadLetters = app.MapAdminGroup("/admin/dead-letters");
        deadLetters.ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        deadLetters.MapGet("", ListDeadLetters)
            .WithName("ListDeadLetters")
            .WithSummary("One page of a user's dead letters: messageId, reason, attempts, last status, payload.");
        deadLetters.MapPost("/replay", ReplayDeadLetters)
            .WithName("ReplayDeadLetters")
            .WithSummary("Sends a user's dead letters (all, or the given messageIds) to its queue again, as first attempts.")
            .Accepts<ReplayDeadLettersRequest>("application/json");
        deadLetters.MapPost("/purge", PurgeDeadLetters)
            .WithName("PurgeDeadLetters")
            .WithSummary("Deletes all dead letters of a user.")
            .Accepts<ReplayDeadLettersRequest>("application/json");
        return app;
    }

    public static async Task<Results<Ok<DeadLetterListResponse>, ValidationProblem>> ListDeadLetters(
        string? userId, int? page, int? pageSize, [AsParameters] DeadLetterServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (UserIds.Validate(userId) is { } problem)
        {
            errors["userId"] = [problem];
        }

        if (page is < 1)
        {
            errors["page"] = ["page starts at 1."];
        }

        if (pageSize is < 1 or > MaxPageSize)
        {
            errors["pageSize"] = [$"pageSize must be between 1 and {MaxPageSize}."];
        }

        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        var (pageNumber, size) = (page ?? 1, pageSize ?? 50);
        var letters = await services.DeadLetters.ListAsync(userId!, pageNumber, size, cancellationToken);
        return TypedResults.Ok(new DeadLetterListResponse(true, userId!, pageNumber, size, letters.Total, letters.Complete, letters.Items));
    }

    public static async Task<Results<Ok<DeadLetterActionResponse>, ValidationProblem, ProblemHttpResult>> ReplayDeadLetters(
        HttpContext context, [AsParameters] DeadLetterServices services, CancellationToken cancellationToken)
    {
        var (request, problem) = await ReadAsync(context.Request, allowMessageIds: true, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var replayed = await services.DeadLetters.ReplayAsync(request!.UserId, request.MessageIds, cancellationToken);
        await AuditAsync(context, services, "replay-dead-letters", request.UserId,
            $"{replayed} replayed" + (request.MessageIds is { } ids ? $" of {ids.Count} asked" : ""), cancellationToken);
        return TypedResults.Ok(new DeadLetterActionResponse(true, request.UserId, replayed));
    }

    public static async Task<Results<Ok<DeadLetterActionResponse>, ValidationProblem, ProblemHttpResult>> PurgeDeadLetters(
        HttpContext context, [AsParameters] DeadLetterServices services, CancellationToken cancellationToken)
    {
        var (request, problem) = await ReadAsync(context.Request, allowMessageIds: false, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var purged = await services.DeadLetters.PurgeAsync(request!.UserId, cancellationToken);
        await AuditAsync(context, services, "purge-dead-letters", request.UserId, $"{purged} purged", cancellationToken);
        return TypedResults.Ok(new DeadLetterActionResponse(true, request.UserId, purged));
    }

    private sealed record DeadLetterRequest(string UserId, IReadOnlySet<string>? MessageIds);

    private static async Task<(DeadLetterRequest? Request, Results<Ok<DeadLetterActionResponse>, ValidationProblem, ProblemHttpResult>? Problem)> ReadAsync(
        HttpRequest request, bool allowMessageIds, CancellationToken cancellationToken)
    {
        var (document, bodyProblem) = await JsonBody.ReadAsync(request, EnvelopeBytes, cancellationToken);
        if (bodyProblem is not null)
        {
            return (null, bodyProblem);
        }

        using (document)
        {
            var body = document!.RootElement;
            var errors = new Dictionary<string, string[]>();
            var userId = body.TryGetProperty("userId", out var user) && user.ValueKind == JsonValueKind.String ? user.GetString() : null;
            if (UserIds.Validate(userId) is { } problem)
            {
                errors["userId"] = [problem];
            }

            HashSet<string>? messageIds = null;
            if (body.TryGetProperty("messageIds", out var ids) && ids.ValueKind != JsonValueKind.Null)
            {
                if (!allowMessageIds)
                {
                    errors["messageIds"] = ["purge takes no messageIds: it deletes every dead letter of the user."];
                }
                else if (ids.ValueKind != JsonValueKind.Array || ids.EnumerateArray().Any(id => id.ValueKind != JsonValueKind.String))
                {
                    errors["messageIds"] = ["messageIds must be an array of messageId strings (leave it out to replay them all)."];
                }
                else
                {
                    messageIds = [.. ids.EnumerateArray().Select(id => id.GetString()!)];
                }
            }

            return errors.Count > 0 ? (null, Invalid(errors)) : (new DeadLetterRequest(userId!, messageIds), null);
        }
    }

    private static ValidationProblem Invalid(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "The request is not valid",
            detail: "No dead letter was changed. Fix the fields listed in 'errors' and send it again.");

    private static Task AuditAsync(HttpContext context, DeadLetterServices services, string action, string userId, string detail, CancellationToken cancellationToken) =>
        services.Audit.AppendAsync(new AuditEntry(services.Time.GetUtcNow(), AdminApiKeyFilter.ActorOf(context), action, userId, detail), cancellationToken);
}

internal sealed record DeadLetterServices(DeadLetters DeadLetters, IAuditLog Audit, TimeProvider Time);

/// <summary>Body of the replay and purge endpoints (for the OpenAPI document).</summary>
internal sealed record ReplayDeadLettersRequest(string UserId, IReadOnlyList<string>? MessageIds);

internal sealed record DeadLetterListResponse(bool Success, string UserId, int Page, int PageSize, int Total, bool Complete, IReadOnlyList<DeadLetter> Items);

internal sealed record DeadLetterActionResponse(bool Success, string UserId, int Count);
