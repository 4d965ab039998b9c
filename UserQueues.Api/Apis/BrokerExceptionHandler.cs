using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using UserQueues.Messaging;

namespace UserQueues.Api.Apis;

/// <summary>
/// Turns the broker's failures into problem details a producer can act on: 503 with Retry-After
/// while the broker is unreachable (nothing was stored), 409 for conflicting queue settings.
/// </summary>
internal sealed partial class BrokerExceptionHandler(IProblemDetailsService problemDetails, ILogger<BrokerExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title) = exception switch
        {
            BrokerUnavailableException => (StatusCodes.Status503ServiceUnavailable, "Message broker unavailable"),
            QueueSettingsConflictException => (StatusCodes.Status409Conflict, "Queue settings conflict"),
            _ => (0, ""),
        };
        if (status == 0)
        {
            return false;
        }

        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            LogBrokerUnavailable(logger, exception.Message);
            httpContext.Response.Headers.RetryAfter = "5";
        }

        httpContext.Response.StatusCode = status;
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = exception.Message },
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request refused, broker unavailable: {Reason}")]
    private static partial void LogBrokerUnavailable(ILogger logger, string reason);
}
