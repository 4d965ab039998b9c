using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace UserQueues.FunctionalTests;

/// <summary>
/// The trace context survives the real broker: a send-message request carrying a known W3C
/// <c>traceparent</c> (ASP.NET Core continues it) reaches the receiver as a callback whose own
/// <c>traceparent</c> is of the same trace, sent directly, through the delay levels, and on a
/// retry (which goes through the delay levels too).
/// </summary>
[Collection(UserQueuesAppGroup.Name)]
public sealed class TraceContextTests(UserQueuesAppFixture system)
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(45);

    private async Task<(ActivityTraceId TraceId, string MessageId)> SendInTraceAsync(object body)
    {
        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/send-message") { Content = JsonContent.Create(body) };
        request.Headers.TryAddWithoutValidation("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        using var response = await system.Api.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (traceId, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetString()!);
    }

    private static string TraceIdOf(ReceivedCallback callback)
    {
        Assert.True(callback.Headers.TryGetValue("traceparent", out var traceParent), "the callback carries no traceparent");
        var parts = traceParent!.Split('-');
        Assert.Equal(4, parts.Length);
        return parts[1];
    }

    [Fact]
    public async Task ADirectMessagesCallbackIsInTheTraceOfItsSendRequest()
    {
        var (traceId, messageId) = await SendInTraceAsync(new { userId = "trace-1", callbackUrl = system.Sink.UrlFor("trace-1"), payload = 1 });

        var callback = Assert.Single(await system.Sink.WaitForAsync("trace-1", c => c.Count >= 1, DeliveryTimeout));

        Assert.Equal(messageId, callback.Headers["webhook-id"]);
        Assert.Equal(traceId.ToHexString(), TraceIdOf(callback));
    }

    [Fact]
    public async Task ADelayedMessageKeepsItsTraceThroughTheDelayLevels()
    {
        var (traceId, messageId) = await SendInTraceAsync(new { userId = "trace-2", callbackUrl = system.Sink.UrlFor("trace-2"), payload = 1, delaySeconds = 3 });

        var callback = Assert.Single(await system.Sink.WaitForAsync("trace-2", c => c.Count >= 1, DeliveryTimeout));

        Assert.Equal(messageId, callback.Headers["webhook-id"]);
        Assert.Equal(traceId.ToHexString(), TraceIdOf(callback));
    }

    [Fact]
    public async Task EveryAttemptOfARetriedMessageIsInTheSameTrace()
    {
        var (traceId, _) = await SendInTraceAsync(new { userId = "trace-3", callbackUrl = system.Sink.UrlFor("flaky/1/503/trace-3"), payload = 1 });

        var callbacks = await system.Sink.WaitForAsync("flaky/1/503/trace-3", c => c.Any(r => r.AnsweredStatus == 200), DeliveryTimeout);

        Assert.Equal([503, 200], callbacks.Select(c => c.AnsweredStatus));
        Assert.All(callbacks, c => Assert.Equal(traceId.ToHexString(), TraceIdOf(c)));
        // Each attempt is its own callback span.
        Assert.NotEqual(callbacks[0].Headers["traceparent"], callbacks[1].Headers["traceparent"]);
    }
}
