using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;

namespace UserQueues.Api.Apis;

/// <summary>
/// Reads a JSON request body under a size limit, so that every way a body can be wrong gets its
/// own precise problem details instead of a generic binding failure. The content type is checked
/// before, by routing (the endpoints accept only application/json).
/// </summary>
internal static class JsonBody
{
    public const string UnsupportedMediaTypeDetail = "Send the body as JSON with the header 'Content-Type: application/json'.";

    public static async Task<(JsonDocument? Document, ProblemHttpResult? Problem)> ReadAsync(
        HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return (null, TooLarge(maxBytes));
        }

        var buffer = new ArrayBufferWriter<byte>(Math.Min(maxBytes, 16 * 1024));
        while (true)
        {
            var read = await request.Body.ReadAsync(buffer.GetMemory(4096), cancellationToken);
            if (read == 0)
            {
                break;
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > maxBytes)
            {
                return (null, TooLarge(maxBytes));
            }
        }

        try
        {
            var document = JsonDocument.Parse(buffer.WrittenMemory, new JsonDocumentOptions { MaxDepth = 64 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                document.Dispose();
                return (null, BadJson("The body must be a JSON object, e.g. {\"userId\":\"u1\"}."));
            }

            return (document, null);
        }
        catch (JsonException e)
        {
            return (null, BadJson($"The body is not valid JSON: {e.Message}"));
        }
    }

    public static ProblemHttpResult TooLarge(int maxBytes) => TypedResults.Problem(
        statusCode: StatusCodes.Status413PayloadTooLarge,
        title: "Body too large",
        detail: $"The request body or its payload is larger than {maxBytes} bytes. Send a smaller payload, or raise Messaging:MaxPayloadBytes.");

    private static ProblemHttpResult BadJson(string detail) => TypedResults.Problem(
        statusCode: StatusCodes.Status400BadRequest,
        title: "Malformed JSON",
        detail: detail);
}
