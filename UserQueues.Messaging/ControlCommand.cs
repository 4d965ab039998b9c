using System.Text.Json;
using System.Text.Json.Serialization;

namespace UserQueues.Messaging;

/// <summary>What a control command asks every worker instance to do.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ControlAction>))]
public enum ControlAction
{
    /// <summary>The queue was (re)declared or started: consume it if its desired status is running.</summary>
    Subscribe,

    /// <summary>The consumer was stopped: cancel it, let the in-flight delivery finish.</summary>
    Unsubscribe,

    /// <summary>The queue looks idle past its TTL: cancel the consumer and stay off it for a while, so the janitor can delete it if the broker finds it empty and unused.</summary>
    Park,
    /// <summary>
    /// Every queue's desired status changed at once (start-all): compare the consumers with the
    /// registry now. One command for all queues instead of one per queue.
    /// </summary>
    ReconcileAll,

    /// <summary>Every consumer was stopped at once (stop-all): cancel them all, in-flight deliveries finish.</summary>
    UnsubscribeAll,
}

/// <summary>A command on the <c>user_control</c> fanout exchange. <see cref="UserId"/> is null for the "all" actions.</summary>
/// <param name="Declared">
/// Subscribe only: the sender declared the queue a moment before, so a worker consumes it without
/// first asking the broker whether it exists (one round trip less per created queue). Should it
/// have been deleted in between, the consume closes that worker's lane and the lane's consumers
/// are subscribed again, as after any lane failure. Older workers ignore the field.
/// </param>
public sealed record ControlCommand(ControlAction Action, string? UserId = null, bool Declared = false)
{
    public static ControlCommand StartAll { get; } = new(ControlAction.ReconcileAll);

    public static ControlCommand StopAll { get; } = new(ControlAction.UnsubscribeAll);

    /// <summary>True for the commands that concern every queue rather than one user's.</summary>
    [JsonIgnore]
    public bool IsForAll => Action is ControlAction.ReconcileAll or ControlAction.UnsubscribeAll;

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, MessagingJsonContext.Default.ControlCommand);

    public static ControlCommand? TryParse(ReadOnlySpan<byte> body)
    {
        try
        {
            var command = JsonSerializer.Deserialize(body, MessagingJsonContext.Default.ControlCommand);
            return command switch
            {
                null => null,
                { IsForAll: true } => command with { UserId = null },
                _ when UserIds.IsValid(command.UserId) => command,
                _ => null,
            };
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
