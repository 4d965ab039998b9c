using System.Net.Sockets;
using UserQueues.Worker.Delivery;

namespace UserQueues.UnitTests;

public class DeliveryResultTests
{
    [Theory]
    [InlineData(200, DeliveryVerdict.Delivered)]
    [InlineData(202, DeliveryVerdict.Delivered)]
    [InlineData(204, DeliveryVerdict.Delivered)]
    [InlineData(299, DeliveryVerdict.Delivered)]
    [InlineData(408, DeliveryVerdict.Retryable)]
    [InlineData(425, DeliveryVerdict.Retryable)]
    [InlineData(429, DeliveryVerdict.Retryable)]
    [InlineData(500, DeliveryVerdict.Retryable)]
    [InlineData(502, DeliveryVerdict.Retryable)]
    [InlineData(503, DeliveryVerdict.Retryable)]
    [InlineData(599, DeliveryVerdict.Retryable)]
    [InlineData(301, DeliveryVerdict.Permanent)]
    [InlineData(302, DeliveryVerdict.Permanent)]
    [InlineData(307, DeliveryVerdict.Permanent)]
    [InlineData(400, DeliveryVerdict.Permanent)]
    [InlineData(401, DeliveryVerdict.Permanent)]
    [InlineData(404, DeliveryVerdict.Permanent)]
    [InlineData(410, DeliveryVerdict.Permanent)]
    [InlineData(422, DeliveryVerdict.Permanent)]
    public void StatusCodesAreClassifiedAsTheDeliveryContractSays(int status, DeliveryVerdict expected) =>
        Assert.Equal(expected, DeliveryResult.Classify(status));

    [Fact]
    public void ConnectionFailuresAndTimeoutsAreRetryableWithAReason()
    {
        var refused = DeliveryResult.FromException(
            new HttpRequestException("refused", new SocketException((int)SocketError.ConnectionRefused)), timedOut: false);
        Assert.Equal(DeliveryVerdict.Retryable, refused.Verdict);
        Assert.Contains("ConnectionRefused", refused.Reason);

        var timeout = DeliveryResult.FromException(new TaskCanceledException(), timedOut: true);
        Assert.Equal(DeliveryVerdict.Retryable, timeout.Verdict);
        Assert.Contains("in time", timeout.Reason);
        Assert.Null(timeout.StatusCode);
    }

    [Fact]
    public void ARefusedDestinationIsPermanentWithThePolicysReasonHoweverDeeplyWrapped()
    {
        var refusal = new CallbackDestinationRefusedException("10.0.0.1", System.Net.IPAddress.Parse("10.0.0.1"),
            "destination 10.0.0.1 is in a blocked network (private); allow it with Delivery:AllowedNetworks");
        var wrapped = new HttpRequestException("connect failed", new IOException("wrapper", refusal));

        var found = DeliveryResult.FindRefusal(wrapped);
        Assert.Same(refusal, found);
        var result = DeliveryResult.Refused(found!);
        Assert.Equal(DeliveryVerdict.Permanent, result.Verdict);
        Assert.Null(result.StatusCode);
        Assert.Equal("destination 10.0.0.1 is in a blocked network (private); allow it with Delivery:AllowedNetworks", result.Reason);
        Assert.Null(DeliveryResult.FindRefusal(new HttpRequestException("refused", new SocketException((int)SocketError.ConnectionRefused))));
    }
}
