using System.Text.Json.Serialization;

namespace UserQueues.Api.Apis;

/// <summary>Source-generated JSON for the API's responses (no reflection on the hot path).</summary>
[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(CreateQueueResponse))]
[JsonSerializable(typeof(SendMessageResponse))]
[JsonSerializable(typeof(TestCallbackResponse))]
[JsonSerializable(typeof(DeadLetterListResponse))]
[JsonSerializable(typeof(DeadLetterActionResponse))]
[JsonSerializable(typeof(SecretRotationResponse))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
