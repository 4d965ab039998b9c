using System.Text.Json;
using System.Text.Json.Serialization;

namespace UserQueues.Messaging;

/// <summary>What a control command asks every worker instance to do for one user's queue.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ControlAction>))]
public enum ControlAction
{
    /// <summary>The queue was (re)declared or started: consume it if its desired status is running.</summary>
    Subscribe,

    /// <summary>The consumer was stopped: cancel it, let the in-flight delivery finish.</summary>
    Unsubscribe,

    /// <summary>The queue looks idle past its TTL: cancel the consumer and stay off it for a while, so the janitor can delete it if the broker finds it empty and unused.</summary>
    Park,
}

/// <summary>A command on the <c>user_control</c> fanout exchange.</summary>
public sealed record ControlCommand(ControlAction Action, string UserId)
{
    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, MessagingJsonContext.Default.ControlCommand);

    public static ControlCommand? TryParse(ReadOnlySpan<byte> body)
    {
        try
        {
            var command = JsonSerializer.Deserialize(body, MessagingJsonContext.Default.ControlCommand);
            return command is not null && UserIds.IsValid(command.UserId) ? command : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ControlCommand))]
internal sealed partial class MessagingJsonContext : JsonSerializerContext;
