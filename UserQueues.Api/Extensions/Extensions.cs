using UserQueues.Api.Apis;
using UserQueues.Api.RateLimiting;

namespace Microsoft.Extensions.Hosting;

internal static class Extensions
{
    /// <summary>Everything the API needs besides the service defaults.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.UseSeedPort();
        builder.AddUserQueuesMessaging();
        builder.AddUserQueuesSecurity();
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<UserRateLimiter>();
        builder.AddAdminApi();

        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            // Seed clients look at "success"; problem details say it too.
            context.ProblemDetails.Extensions["success"] = false;
            if (context.ProblemDetails.Status == StatusCodes.Status415UnsupportedMediaType)
            {
                // Routing refuses a body that is not JSON before any handler runs (the endpoints' Accepts metadata).
                context.ProblemDetails.Detail ??= JsonBody.UnsupportedMediaTypeDetail;
            }
        });
        builder.Services.AddExceptionHandler<BrokerExceptionHandler>();
        builder.Services.ConfigureHttpJsonOptions(options =>
            options.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default));
        builder.Services.AddOpenApi();
    }

    /// <summary>
    /// The seed's <c>PORT</c>: where the API listens when nothing more specific (ASPNETCORE_URLS,
    /// HTTP_PORTS, the AppHost) says so.
    /// </summary>
    private static void UseSeedPort(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        if (builder is WebApplicationBuilder web
            && configuration[SeedEnvironment.Port] is { Length: > 0 } port
            && string.IsNullOrEmpty(configuration["urls"])
            && string.IsNullOrEmpty(configuration["http_ports"]))
        {
            if (!int.TryParse(port, out var number) || number is < 1 or > 65535)
            {
                throw new InvalidOperationException($"PORT must be a TCP port number (1-65535), not '{port}'.");
            }

            web.WebHost.UseUrls($"http://*:{number}");
        }
    }
}
