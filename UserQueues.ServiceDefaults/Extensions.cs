using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every UserQueues service shares: OpenTelemetry to the Aspire dashboard, health checks,
/// service discovery and resilient outgoing HTTP, and the seed's environment variables.
/// </summary>
public static class Extensions
{
    /// <summary>
    /// The project's own ActivitySource and Meter name, registered once here for every service
    /// (the instruments are in UserQueues.Messaging/Telemetry/UserQueuesTelemetry.cs, same name).
    /// </summary>
    public const string TelemetryName = "UserQueues";

    /// <summary>Fraction of new traces recorded outside Development (0 … 1); Development records all.</summary>
    public const string TraceSampleRatioKey = "Telemetry:TraceSampleRatio";

    private const string HealthEndpointPath = "/health";
    private const string AlivenessEndpointPath = "/alive";

    /// <summary>Adds the defaults every UserQueues service runs with.</summary>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Configuration.AddSeedEnvironment();

        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });

        return builder;
    }

    /// <summary>
    /// Maps the seed design's environment variables (RABBIT_URL, PREFETCH, ...) onto the .NET
    /// configuration keys the services bind. A key set explicitly (e.g. <c>Worker__Prefetch</c>) wins.
    /// </summary>
    public static IConfigurationManager AddSeedEnvironment(this IConfigurationManager configuration)
    {
        foreach (var (seedName, key) in SeedEnvironment.Mappings)
        {
            if (configuration[key] is null && configuration[seedName] is { Length: > 0 } value)
            {
                configuration[key] = value;
            }
        }

        return configuration;
    }

    /// <summary>Sends logs, traces and metrics over OTLP when the dashboard (or any collector) is configured.</summary>
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(TelemetryName))
            .WithTracing(tracing => tracing
                .SetSampler(CreateSampler(builder))
                .AddSource(builder.Environment.ApplicationName)
                .AddSource(TelemetryName)
                .AddAspNetCoreInstrumentation(aspNet =>
                    // Health probes every few seconds would bury the traces people look for.
                    aspNet.Filter = context =>
                        !context.Request.Path.StartsWithSegments(HealthEndpointPath)
                        && !context.Request.Path.StartsWithSegments(AlivenessEndpointPath))
                .AddHttpClientInstrumentation());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        return builder;
    }

    /// <summary>
    /// Everything in Development; elsewhere <see cref="TraceSampleRatioKey"/> of the new traces
    /// (default 1: all). Parent-based, so a message's trace is recorded in every service or in none:
    /// the worker follows the sampled flag of the <c>traceparent</c> the message carries.
    /// </summary>
    public static Sampler CreateSampler(IHostApplicationBuilder builder)
    {
        if (builder.Environment.IsDevelopment())
        {
            return new AlwaysOnSampler();
        }

        var ratio = builder.Configuration.GetValue<double?>(TraceSampleRatioKey) ?? 1.0;
        if (ratio is < 0 or > 1 || double.IsNaN(ratio))
        {
            throw new InvalidOperationException($"{TraceSampleRatioKey} must be between 0 and 1 (the fraction of traces recorded); it is {ratio}.");
        }

        return new ParentBasedSampler(new TraceIdRatioBasedSampler(ratio));
    }

    /// <summary>Adds the liveness check every service answers on <c>/alive</c>.</summary>
    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), ["live"]);

        return builder;
    }

    /// <summary>Maps <c>/health</c> (every check, readiness) and <c>/alive</c> (liveness only).</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        // REVIEW: health endpoints are open in every environment: they say nothing secret
        // (healthy/unhealthy only) and orchestrators need them outside Development too.
        app.MapHealthChecks(HealthEndpointPath);
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = r => r.Tags.Contains("live")
        });

        return app;
    }
}
