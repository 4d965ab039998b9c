using System.Text;

namespace UserQueues.Api.Apis;

/// <summary>The seed's demo receiver: <c>POST /_test/callback</c> logs what it gets and answers <c>{ "ok": true }</c>.</summary>
internal static partial class TestCallbackApi
{
    private const int MaxLoggedBytes = 64 * 1024;

    public static IEndpointRouteBuilder MapTestCallbackApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/_test/callback", ReceiveTestCallback)
            .WithName("TestCallback")
            .WithSummary("Demo callback receiver: logs the delivery and answers { ok: true }.")
            .WithTags("Demo");
        return app;
    }

    public static async Task<IResult> ReceiveTestCallback(HttpRequest request, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var buffer = new char[MaxLoggedBytes];
        var length = await reader.ReadBlockAsync(buffer, cancellationToken);
        var webhookId = request.Headers[UserQueues.Messaging.WebhookHeaders.Id].ToString();
        LogReceived(loggers.CreateLogger("UserQueues.Api.TestCallback"), webhookId, new string(buffer, 0, length));
        return TypedResults.Ok(new TestCallbackResponse(true));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Test callback received {WebhookId}: {Body}")]
    private static partial void LogReceived(ILogger logger, string webhookId, string body);
}

internal sealed record TestCallbackResponse(bool Ok);
