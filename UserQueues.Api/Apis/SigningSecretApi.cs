using Microsoft.AspNetCore.Http.HttpResults;
using UserQueues.Messaging.Registry;
using UserQueues.Messaging.Signing;

namespace UserQueues.Api.Apis;

/// <summary>
/// Rotating a user's signing secret (admin auth, <c>x-api-key</c>). Rotation makes a new secret
/// current and keeps the old one as previous: deliveries carry both signatures, space-separated
/// (Standard Webhooks), until the rotation is ended, so receivers can switch without a gap.
/// </summary>
internal static class SigningSecretApi
{
    public static IEndpointRouteBuilder MapSigningSecretApi(this IEndpointRouteBuilder app)
    {
        var secrets = app.MapAdminGroup("/admin");
        secrets.ProducesProblem(StatusCodes.Status404NotFound);

        secrets.MapPost("/rotate-secret", RotateSecret)
            .WithName("RotateSigningSecret")
            .WithSummary("Gives a user a new signing secret, returned once; the old one keeps signing too until end-secret-rotation.")
            .Accepts<AdminUserRequest>("application/json");
        secrets.MapPost("/end-secret-rotation", EndSecretRotation)
            .WithName("EndSigningSecretRotation")
            .WithSummary("Stops signing with a user's previous secret.")
            .Accepts<AdminUserRequest>("application/json");
        return app;
    }

    public static Task<Results<Ok<SecretRotationResponse>, ValidationProblem, ProblemHttpResult>> RotateSecret(
        HttpContext context, [AsParameters] SigningSecretServices services, CancellationToken cancellationToken) =>
        AdminApi.WithUserIdAsync<SecretRotationResponse>(context, async userId =>
        {
            if (await services.Registry.FindAsync(userId, cancellationToken) is null)
            {
                return AdminApi.UnknownUser(userId);
            }

            var secret = WebhookSecret.Generate();
            var now = services.Time.GetUtcNow();
            // A user that never had a secret of its own (its queue came from send-message) gets its first one.
            var rotating = await services.Secrets.RotateAsync(userId, secret, now, cancellationToken);
            if (!rotating)
            {
                await services.Secrets.AddIfMissingAsync(userId, secret, now, cancellationToken);
            }

            await services.Audit.AppendAsync(new AuditEntry(now, AdminApiKeyFilter.ActorOf(context), "rotate-secret", userId,
                rotating ? "new secret current, previous one still signing" : "first secret of the user"), cancellationToken);
            return TypedResults.Ok(new SecretRotationResponse(true, userId, secret.Reveal(), rotating));
        }, cancellationToken);

    public static Task<Results<Ok<SecretRotationResponse>, ValidationProblem, ProblemHttpResult>> EndSecretRotation(
        HttpContext context, [AsParameters] SigningSecretServices services, CancellationToken cancellationToken) =>
        AdminApi.WithUserIdAsync<SecretRotationResponse>(context, async userId =>
        {
            if (await services.Registry.FindAsync(userId, cancellationToken) is null)
            {
                return AdminApi.UnknownUser(userId);
            }

            if (!await services.Secrets.EndRotationAsync(userId, cancellationToken))
            {
                return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No signing secret",
                    detail: $"User '{userId}' has no signing secret of its own; POST /admin/rotate-secret gives it one.");
            }

            await services.Audit.AppendAsync(new AuditEntry(services.Time.GetUtcNow(), AdminApiKeyFilter.ActorOf(context), "end-secret-rotation", userId, null), cancellationToken);
            return TypedResults.Ok(new SecretRotationResponse(true, userId, SigningSecret: null, Rotating: false));
        }, cancellationToken);
}

internal sealed record SigningSecretServices(IWebhookSecretStore Secrets, IQueueRegistry Registry, IAuditLog Audit, TimeProvider Time);

/// <summary>The new secret is shown once, here; it is never listed anywhere else.</summary>
internal sealed record SecretRotationResponse(bool Success, string UserId, string? SigningSecret, bool Rotating);
