using System.Buffers;
using System.Text;
using System.Text.Json;
using RabbitMQ.Client;
using UserQueues.Messaging;

namespace UserQueues.UnitTests;

public class UserMessageTests
{
    private static readonly DateTimeOffset PublishedAt = new(2026, 12, 4, 10, 0, 0, 123, TimeSpan.Zero);

    private static UserMessage Sample(int attempt = 1) => new(
        "0193a1b2-0000-7000-8000-000000000001", "u1", "http://receiver.example/cb",
        Encoding.UTF8.GetBytes("""{"hello":"world","n":[1,2]}"""), PublishedAt, attempt);

    [Fact]
    public void PropertiesArePersistentJsonAndCarryEverythingButThePayload()
    {
        var properties = Sample().ToProperties();

        Assert.Equal(DeliveryModes.Persistent, properties.DeliveryMode);
        Assert.Equal("application/json", properties.ContentType);
        Assert.Equal("0193a1b2-0000-7000-8000-000000000001", properties.MessageId);
        Assert.Equal("u1", properties.Headers![MessageHeaders.UserId]);
        Assert.Equal("http://receiver.example/cb", properties.Headers[MessageHeaders.CallbackUrl]);
        Assert.Equal(1, properties.Headers[MessageHeaders.Attempt]);
        Assert.Equal(PublishedAt.ToUnixTimeMilliseconds(), properties.Headers[MessageHeaders.PublishedAt]);
    }

    [Fact]
    public void AMessageReadBackFromTheBrokerEqualsTheOneSent()
    {
        var sent = Sample(attempt: 3);
        var properties = sent.ToProperties();
        // The broker hands string headers back as UTF-8 bytes.
        properties.Headers![MessageHeaders.UserId] = "u1"u8.ToArray();
        properties.Headers[MessageHeaders.CallbackUrl] = Encoding.UTF8.GetBytes(sent.CallbackUrl);

        var read = UserMessage.TryRead(properties, sent.Payload, out var error);

        Assert.Null(error);
        Assert.NotNull(read);
        Assert.Equal(sent.MessageId, read.MessageId);
        Assert.Equal("u1", read.UserId);
        Assert.Equal(sent.CallbackUrl, read.CallbackUrl);
        Assert.Equal(3, read.Attempt);
        Assert.Equal(PublishedAt, read.PublishedAt);
        Assert.Equal(sent.Payload.ToArray(), read.Payload.ToArray());
    }

    [Fact]
    public void AMessageWithoutUserQueuesHeadersIsUnreadable()
    {
        var read = UserMessage.TryRead(new BasicProperties { MessageId = "m1" }, "{}"u8.ToArray(), out var error);

        Assert.Null(read);
        Assert.Contains("x-user-id", error);
    }

    [Fact]
    public void CallbackBodyHasTheContractFieldsAndThePayloadUntouched()
    {
        var buffer = new ArrayBufferWriter<byte>();
        Sample(attempt: 2).WriteCallbackBody(buffer);

        using var body = JsonDocument.Parse(buffer.WrittenMemory);
        var root = body.RootElement;
        Assert.Equal("0193a1b2-0000-7000-8000-000000000001", root.GetProperty("messageId").GetString());
        Assert.Equal("u1", root.GetProperty("userId").GetString());
        Assert.Equal("world", root.GetProperty("payload").GetProperty("hello").GetString());
        Assert.Equal(2, root.GetProperty("payload").GetProperty("n")[1].GetInt32());
        Assert.Equal(2, root.GetProperty("attempt").GetInt32());
        Assert.Equal(PublishedAt, root.GetProperty("publishedAt").GetDateTimeOffset());
        Assert.Equal(5, root.EnumerateObject().Count());
    }

    [Fact]
    public void ControlCommandsRoundTripAndRejectUnsafeUserIds()
    {
        var command = new ControlCommand(ControlAction.Unsubscribe, "u1");
        Assert.Equal(command, ControlCommand.TryParse(command.ToBytes()));
        Assert.Contains("\"unsubscribe\"", Encoding.UTF8.GetString(command.ToBytes()), StringComparison.OrdinalIgnoreCase);
        Assert.Null(ControlCommand.TryParse("""{"action":"Subscribe","userId":"../etc"}"""u8));
        Assert.Null(ControlCommand.TryParse("not json"u8));
    }

    [Fact]
    public void ASubscribeCommandSaysWhetherItsSenderDeclaredTheQueueAndOlderSendersOmitIt()
    {
        var declared = new ControlCommand(ControlAction.Subscribe, "u1", Declared: true);
        Assert.True(ControlCommand.TryParse(declared.ToBytes())!.Declared);
        // A command from a version before the field: the worker looks before it consumes.
        Assert.False(ControlCommand.TryParse("""{"action":"Subscribe","userId":"u1"}"""u8)!.Declared);
    }
}
