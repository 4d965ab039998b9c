using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using UserQueues.Api.RateLimiting;
using UserQueues.Messaging;
using UserQueues.Messaging.Egress;
using UserQueues.Messaging.Registry;
using UserQueues.Messaging.Signing;
using UserQueues.Messaging.Telemetry;

namespace UserQueues.Api.Apis;

/// <summary>The seed's producer endpoints: <c>POST /create-queue</c> and <c>POST /send-message</c>.</summary>
internal static class ProducerApi
{
    /// <summary>Room for the fields around the payload in a send-message body.</summary>
    private const int EnvelopeAllowanceBytes = 16 * 1024;

    public static IEndpointRouteBuilder MapProducerApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("").WithTags("Producer");

        api.MapPost("/create-queue", CreateQueue)
            .WithName("CreateQueue")
            .WithSummary("Declares a user's queue (idempotent) and records it in the registry.")
            .Accepts<CreateQueueRequest>("application/json")
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapPost("/send-message", SendMessage)
            .WithName("SendMessage")
            .WithSummary("Stores a message durably in the user's queue; the worker POSTs it to callbackUrl.")
            .Accepts<SendMessageRequest>("application/json")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        return app;
    }

    public static async Task<Results<Ok<CreateQueueResponse>, ValidationProblem, ProblemHttpResult>> CreateQueue(
        HttpRequest request, [AsParameters] ProducerServices services, CancellationToken cancellationToken)
    {
        var (document, problem) = await JsonBody.ReadAsync(request, EnvelopeAllowanceBytes, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        using (document)
        {
            if (ProducerRequests.ReadCreateQueue(document!.RootElement, out var errors) is not { } command)
            {
                return Invalid(errors);
            }

            var record = await services.Provisioner.EnsureAsync(command.UserId, command.TtlMs, command.Ordering, cancellationToken);

            // The user's signing secret is made the first time create-queue sees the user, and shown
            // that once: later calls (create-queue is idempotent) answer without it.
            var secret = WebhookSecret.Generate();
            var isNew = await services.Secrets.AddIfMissingAsync(command.UserId, secret, services.Time.GetUtcNow(), cancellationToken);
            return TypedResults.Ok(new CreateQueueResponse(true, record.QueueName, record.RoutingKey, isNew ? secret.Reveal() : null));
        }
    }

    public static async Task<Results<Ok<SendMessageResponse>, ValidationProblem, ProblemHttpResult>> SendMessage(
        HttpRequest request, [AsParameters] ProducerServices services, CancellationToken cancellationToken)
    {
        var maxPayload = services.Options.Value.MaxPayloadBytes;
        var (document, problem) = await JsonBody.ReadAsync(request, maxPayload + EnvelopeAllowanceBytes, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        SendMessageCommand? command;
        using (document)
        {
            command = ProducerRequests.ReadSendMessage(document!.RootElement, services.Options.Value.MaxDelaySeconds, out var errors, services.AddressPolicy);
            if (command is null)
            {
                return Invalid(errors);
            }
        }

        if (command.Payload.Length > maxPayload)
        {
            return JsonBody.TooLarge(maxPayload);
        }

        if (!services.RateLimiter.TryAcquire(command.UserId, out var retryAfter))
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
            request.HttpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return TypedResults.Problem(
                statusCode: StatusCodes.Status429TooManyRequests,
                title: "Too many messages for this user",
                detail: $"User '{command.UserId}' is sending faster than RateLimit:PermitsPerSecond allows; nothing was published. " +
                        $"Retry after {seconds} s. Other users are not affected.");
        }

        var message = new UserMessage(
            MessageId: Guid.CreateVersion7().ToString(),
            UserId: command.UserId,
            CallbackUrl: command.CallbackUrl.AbsoluteUri,
            Payload: command.Payload,
            PublishedAt: services.Time.GetUtcNow());

        await services.Provisioner.PublishAsync(message, TimeSpan.FromSeconds(command.DelaySeconds), cancellationToken);
        services.Counters.Published(message.UserId);
        UserQueuesTelemetry.Published(delayed: command.DelaySeconds > 0);
        return TypedResults.Ok(new SendMessageResponse(true, message.MessageId));
    }

    private static ValidationProblem Invalid(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors,
            title: "The request is not valid",
            detail: "Nothing was created or published. Fix the fields listed in 'errors' and send it again.");
}

/// <summary>What the producer endpoints use.</summary>
internal sealed record ProducerServices(
    UserQueueProvisioner Provisioner,
    QueueCounters Counters,
    IOptions<MessagingOptions> Options,
    TimeProvider Time,
    CallbackAddressPolicy AddressPolicy,
    IWebhookSecretStore Secrets,
    UserRateLimiter RateLimiter);

/// <summary>Body of <c>POST /create-queue</c> (for the OpenAPI document; the handler validates the raw JSON).</summary>
internal sealed record CreateQueueRequest(
    string? UserId,
    [property: JsonPropertyName("instance_key")] string? InstanceKey,
    long? TtlMs,
    string? Ordering);

/// <summary>Body of <c>POST /send-message</c> (for the OpenAPI document; the handler validates the raw JSON).</summary>
internal sealed record SendMessageRequest(
    string? UserId,
    [property: JsonPropertyName("instance_key")] string? InstanceKey,
    string CallbackUrl,
    System.Text.Json.JsonElement? Payload,
    int? DelaySeconds);

/// <summary>The seed's answer, plus the user's signing secret the one time it is created.</summary>
internal sealed record CreateQueueResponse(
    bool Success,
    string QueueName,
    string RoutingKey,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? SigningSecret);

internal sealed record SendMessageResponse(bool Success, string MessageId);
