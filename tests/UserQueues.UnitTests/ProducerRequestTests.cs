using System.Text;
using System.Text.Json;
using UserQueues.Api.Apis;
using UserQueues.Messaging.Egress;
using UserQueues.Messaging.Registry;

namespace UserQueues.UnitTests;

public class ProducerRequestTests
{
    private const long MaxDelay = 604_800;

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    [Fact]
    public void SendMessageAcceptsTheSeedExample()
    {
        var command = ProducerRequests.ReadSendMessage(Json("""
            {"instance_key":"u1","callbackUrl":"http://localhost:3001/_test/callback","payload":{"hello":"world"}}
            """), MaxDelay, out var errors);

        Assert.Empty(errors);
        Assert.NotNull(command);
        Assert.Equal("u1", command.UserId);
        Assert.Equal("http://localhost:3001/_test/callback", command.CallbackUrl.AbsoluteUri);
        Assert.Equal("""{"hello":"world"}""", Encoding.UTF8.GetString(command.Payload.Span));
        Assert.Equal(0, command.DelaySeconds);
    }

    [Fact]
    public void SendMessageRefusesABlockedLiteralCallbackAddressUnlessTheSettingsAllowIt()
    {
        var body = Json("""{"userId":"u1","callbackUrl":"http://10.0.0.1:8080/hook"}""");

        Assert.Null(ProducerRequests.ReadSendMessage(body, MaxDelay, out var errors));
        Assert.Contains("destination 10.0.0.1 is in a blocked network (private)", Assert.Single(errors["callbackUrl"]));

        var internalReceivers = new CallbackAddressPolicy(false, [System.Net.IPNetwork.Parse("10.0.0.0/24")]);
        Assert.NotNull(ProducerRequests.ReadSendMessage(body, MaxDelay, out errors, internalReceivers));
        Assert.Empty(errors);
        Assert.NotNull(ProducerRequests.ReadSendMessage(body, MaxDelay, out _, new CallbackAddressPolicy(true, [])));
    }

    [Fact]
    public void SendMessageWithoutPayloadSendsJsonNull()
    {
        var command = ProducerRequests.ReadSendMessage(Json("""{"userId":"u1","callbackUrl":"https://example.com/x"}"""), MaxDelay, out _);
        Assert.Equal("null", Encoding.UTF8.GetString(command!.Payload.Span));
    }

    [Fact]
    public void UserIdAndInstanceKeyThatAgreeAreAccepted()
    {
        var command = ProducerRequests.ReadSendMessage(Json("""{"userId":"u1","instance_key":"u1","callbackUrl":"https://example.com/x"}"""), MaxDelay, out var errors);
        Assert.Empty(errors);
        Assert.Equal("u1", command!.UserId);
    }

    [Theory]
    [InlineData("""{"callbackUrl":"https://example.com/x"}""", "userId", "required")]
    [InlineData("""{"userId":42,"callbackUrl":"https://example.com/x"}""", "userId", "must be a string")]
    [InlineData("""{"userId":"a b","callbackUrl":"https://example.com/x"}""", "userId", "may contain only")]
    [InlineData("""{"userId":"u1","instance_key":"u2","callbackUrl":"https://example.com/x"}""", "userId", "disagree")]
    [InlineData("""{"userId":"u1"}""", "callbackUrl", "required")]
    [InlineData("""{"userId":"u1","callbackUrl":"/relative"}""", "callbackUrl", "absolute")]
    [InlineData("""{"userId":"u1","callbackUrl":"ftp://example.com/x"}""", "callbackUrl", "absolute")]
    [InlineData("""{"userId":"u1","callbackUrl":"file:///etc/passwd"}""", "callbackUrl", "absolute")]
    [InlineData("""{"userId":"u1","callbackUrl":"http://user:pw@example.com/x"}""", "callbackUrl", "credentials")]
    [InlineData("""{"userId":"u1","callbackUrl":["http://example.com"]}""", "callbackUrl", "must be a string")]
    [InlineData("""{"userId":"u1","callbackUrl":"https://example.com/x","delaySeconds":-1}""", "delaySeconds", "0 or more")]
    [InlineData("""{"userId":"u1","callbackUrl":"https://example.com/x","delaySeconds":1.5}""", "delaySeconds", "whole number")]
    [InlineData("""{"userId":"u1","callbackUrl":"https://example.com/x","delaySeconds":"5"}""", "delaySeconds", "whole number")]
    [InlineData("""{"userId":"u1","callbackUrl":"https://example.com/x","delaySeconds":604801}""", "delaySeconds", "at most 604800 (7 days)")]
    [InlineData("""{"userId":"u1","callbackUrl":"https://example.com/x","delaySeconds":1e20}""", "delaySeconds", "whole number")]
    public void InvalidSendMessageIsRefusedWithTheFieldAndAFix(string body, string field, string reason)
    {
        var command = ProducerRequests.ReadSendMessage(Json(body), MaxDelay, out var errors);

        Assert.Null(command);
        Assert.Contains(reason, Assert.Single(errors[field]));
    }

    [Fact]
    public void EveryProblemOfARequestIsReportedAtOnce()
    {
        ProducerRequests.ReadSendMessage(Json("""{"userId":"bad id","callbackUrl":"nope","delaySeconds":-3}"""), MaxDelay, out var errors);
        Assert.Equal(["callbackUrl", "delaySeconds", "userId"], errors.Keys.Order());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(604_800)]
    public void DelaysUpToTheCapAreAccepted(int delaySeconds)
    {
        var command = ProducerRequests.ReadSendMessage(Json($$"""{"userId":"u1","callbackUrl":"https://example.com/x","delaySeconds":{{delaySeconds}}}"""), MaxDelay, out var errors);
        Assert.Empty(errors);
        Assert.Equal(delaySeconds, command!.DelaySeconds);
    }

    [Fact]
    public void CreateQueueReadsTheOrderingMode()
    {
        Assert.Equal(QueueOrdering.Strict, ProducerRequests.ReadCreateQueue(Json("""{"userId":"u1","ordering":"strict"}"""), out _)!.Ordering);
        Assert.Equal(QueueOrdering.Default, ProducerRequests.ReadCreateQueue(Json("""{"userId":"u1","ordering":"default"}"""), out _)!.Ordering);
        Assert.Null(ProducerRequests.ReadCreateQueue(Json("""{"userId":"u1"}"""), out _)!.Ordering);
        Assert.Null(ProducerRequests.ReadCreateQueue(Json("""{"userId":"u1","ordering":"fifo"}"""), out var errors));
        Assert.Contains("strict", Assert.Single(errors["ordering"]));
    }

    [Fact]
    public void CreateQueueAcceptsTheSeedExample()
    {
        var command = ProducerRequests.ReadCreateQueue(Json("""{"userId":"u1","ttlMs":600000}"""), out var errors);
        Assert.Empty(errors);
        Assert.Equal(new CreateQueueCommand("u1", 600_000), command);
        Assert.Null(ProducerRequests.ReadCreateQueue(Json("""{"userId":"u1"}"""), out _)!.TtlMs);
    }

    [Theory]
    [InlineData("""{"userId":"u1","ttlMs":0}""", "between")]
    [InlineData("""{"userId":"u1","ttlMs":999}""", "between")]
    [InlineData("""{"userId":"u1","ttlMs":2592000001}""", "between")]
    [InlineData("""{"userId":"u1","ttlMs":1000.5}""", "whole number")]
    [InlineData("""{"userId":"u1","ttlMs":"600000"}""", "whole number")]
    public void CreateQueueWithAnOutOfRangeTtlIsRefused(string body, string reason)
    {
        Assert.Null(ProducerRequests.ReadCreateQueue(Json(body), out var errors));
        Assert.Contains(reason, Assert.Single(errors["ttlMs"]));
    }
}
