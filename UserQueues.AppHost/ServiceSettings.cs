namespace UserQueues.AppHost;

/// <summary>What the AppHost passes on to every service, and where it keeps their data.</summary>
internal static class ServiceSettings
{
    /// <summary>Configuration sections that, set where the AppHost runs, reach the services as-is.</summary>
    // REVIEW: Delivery:SigningSecret travels this way too, as an environment variable that the
    // dashboard shows in the resource's details; an Aspire secret parameter would mask it there.
    private static readonly string[] ForwardedSections = ["Delivery", "Messaging", "Worker", "Registry", "Admin", "RateLimit"];

    /// <summary>AppHost-only keys inside the forwarded sections.</summary>
    private static readonly string[] AppHostOnlyKeys = ["Messaging:Mode", "Messaging:Local", "Worker:Replicas"];

    /// <summary>
    /// The folder for the registry and a local broker: <c>DataDirectory</c> from configuration, else
    /// <c>.data</c> beside the AppHost project.
    /// </summary>
    public static string GetDataDirectory(this IDistributedApplicationBuilder builder)
    {
        var directory = Path.GetFullPath(builder.Configuration["DataDirectory"] is { Length: > 0 } configured
            ? configured
            : Path.Combine(builder.AppHostDirectory, ".data"));
        Directory.CreateDirectory(directory);
        return directory;
    }

    public static int GetPort(this IConfiguration configuration, string key, int fallback)
    {
        var text = configuration[key];
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }

        return int.TryParse(text, out var port) && port is > 0 and < 65536
            ? port
            : throw new InvalidOperationException($"{key} must be a TCP port number (1-65535), not '{text}'.");
    }

    /// <summary>
    /// The seed's environment variables, the <c>Delivery</c>/<c>Messaging</c>/<c>Worker</c>/...
    /// settings of the AppHost's configuration (environment <c>Worker__Prefetch</c>, command line,
    /// appsettings), and the shared registry file.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithServiceSettings(this IResourceBuilder<ProjectResource> service, string registryPath)
    {
        var configuration = service.ApplicationBuilder.Configuration;
        service.WithEnvironment("Registry__Path", registryPath);

        foreach (var name in SeedEnvironment.Names)
        {
            if (configuration[name] is { Length: > 0 } value)
            {
                service.WithEnvironment(name, value);
            }
        }

        foreach (var section in ForwardedSections)
        {
            foreach (var (key, value) in configuration.GetSection(section).AsEnumerable())
            {
                if (value is not null && !AppHostOnlyKeys.Any(k => key.StartsWith(k, StringComparison.OrdinalIgnoreCase)))
                {
                    service.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
                }
            }
        }

        return service;
    }

    /// <summary>Serves the project's http endpoint on a fixed port (the seed's curl examples use 3001).</summary>
    public static IResourceBuilder<ProjectResource> WithFixedHttpPort(this IResourceBuilder<ProjectResource> service, int port) =>
        service.WithEndpoint("http", endpoint => endpoint.Port = port);
}
