using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;

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
            return TypedResults.Ok(new CreateQueueResponse(true, record.QueueName, record.RoutingKey));
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
            command = ProducerRequests.ReadSendMessage(document!.RootElement, services.Options.Value.MaxDelaySeconds, out var errors);
            if (command is null)
            {
                return Invalid(errors);
            }
        }

        if (command.Payload.Length > maxPayload)
        {
            return JsonBody.TooLarge(maxPayload);
        }

        var message = new UserMessage(
            MessageId: Guid.CreateVersion7().ToString(),
            UserId: command.UserId,
            CallbackUrl: command.CallbackUrl.AbsoluteUri,
            Payload: command.Payload,
            PublishedAt: services.Time.GetUtcNow());

        await services.Provisioner.PublishAsync(message, TimeSpan.FromSeconds(command.DelaySeconds), cancellationToken);
        services.Counters.Published(message.UserId);
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
    TimeProvider Time);

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

internal sealed record CreateQueueResponse(bool Success, string QueueName, string RoutingKey);

internal sealed record SendMessageResponse(bool Success, string MessageId);
