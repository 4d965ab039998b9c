using System.Diagnostics;

namespace UserQueues.AppHost;

/// <summary>Where the broker comes from: <c>Messaging:Mode</c> = auto | container | local | external.</summary>
internal static class MessagingBroker
{
    public const string ResourceName = "messaging";

    /// <summary>
    /// Adds the <c>messaging</c> resource. <c>auto</c> picks <c>external</c> when RABBIT_URL (or
    /// ConnectionStrings:messaging) is set, else <c>container</c> when a container runtime answers,
    /// else <c>local</c> when Debian's rabbitmq-server is installed.
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddMessagingBroker(this IDistributedApplicationBuilder builder, string dataDirectory)
    {
        var configuration = builder.Configuration;
        var requested = (configuration["Messaging:Mode"] ?? "auto").Trim().ToLowerInvariant();
        var externalUrl = configuration[SeedEnvironment.RabbitUrl] is { Length: > 0 } url ? url : configuration.GetConnectionString(ResourceName);
        var serverPath = configuration["Messaging:Local:ServerPath"] is { Length: > 0 } path ? path : LocalRabbitMQ.DefaultServerPath;

        var mode = requested switch
        {
            "auto" when !string.IsNullOrEmpty(externalUrl) => "external",
            "auto" when ContainerRuntimeAnswers() => "container",
            "auto" when File.Exists(serverPath) => "local",
            "auto" => throw new InvalidOperationException(NoBrokerMessage(serverPath)),
            "external" or "container" or "local" => requested,
            _ => throw new InvalidOperationException(
                $"Messaging:Mode '{requested}' is not known. Use auto, container, local or external."),
        };

        switch (mode)
        {
            case "external":
                if (string.IsNullOrEmpty(externalUrl))
                {
                    throw new InvalidOperationException(
                        "Messaging:Mode is external but no broker is given: set RABBIT_URL (e.g. amqp://guest:guest@host:5672) or ConnectionStrings__messaging.");
                }

                configuration[$"ConnectionStrings:{ResourceName}"] = externalUrl;
                return builder.AddConnectionString(ResourceName);

            case "container":
                return builder.AddRabbitMQ(ResourceName).WithManagementPlugin();

            default:
                if (!File.Exists(serverPath))
                {
                    throw new InvalidOperationException(
                        $"Messaging:Mode is local but {serverPath} does not exist. Install it with 'apt-get install -y rabbitmq-server' " +
                        "or set Messaging:Local:ServerPath.");
                }

                return builder.AddLocalRabbitMQ(ResourceName, serverPath, dataDirectory);
        }
    }

    private static string NoBrokerMessage(string serverPath) =>
        "No RabbitMQ broker is available. Do one of: " +
        "(1) set RABBIT_URL=amqp://user:password@host:5672 to use an existing broker; " +
        "(2) start Docker or Podman, and the AppHost runs RabbitMQ in a container; " +
        $"(3) install Debian's broker with 'sudo apt-get install -y rabbitmq-server' ({serverPath}), and the AppHost runs a private node of it.";

    /// <summary>True when <c>docker info</c> (or <c>podman info</c>) reaches a running engine within a few seconds.</summary>
    private static bool ContainerRuntimeAnswers() => Answers("docker") || Answers("podman");

    private static bool Answers(string runtime)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(runtime, "info --format {{.ServerVersion}}")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null)
            {
                return false;
            }

            if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }

            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // not installed
        }
    }
}
