using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace UserQueues.AppHost;

/// <summary>
/// A private RabbitMQ node from Debian's <c>rabbitmq-server</c> package, run by the AppHost as an
/// executable: its own node name, ports and data folder, the management plugin on. For machines
/// without Docker; the services see the same <c>ConnectionStrings:messaging</c> as with a container.
/// </summary>
internal sealed class LocalRabbitMQResource(string name, string command, string workingDirectory)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public const string AmqpEndpointName = "amqp";
    public const string ManagementEndpointName = "management";

    public EndpointReference AmqpEndpoint => new(this, AmqpEndpointName);

    /// <remarks>The default <c>guest</c> user may connect only from localhost, which is where the node listens.</remarks>
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"amqp://guest:guest@localhost:{AmqpEndpoint.Property(EndpointProperty.Port)}");
}

internal static class LocalRabbitMQ
{
    /// <summary>The server script itself; /usr/sbin/rabbitmq-server would switch to the rabbitmq user.</summary>
    public const string DefaultServerPath = "/usr/lib/rabbitmq/bin/rabbitmq-server";

    public static IResourceBuilder<LocalRabbitMQResource> AddLocalRabbitMQ(
        this IDistributedApplicationBuilder builder, string name, string serverPath, string dataDirectory)
    {
        var configuration = builder.Configuration;
        // One node per data folder: a stable name keeps its durable queues across AppHost runs.
        var nodeName = $"userqueues-{ShortHash(dataDirectory)}";
        var home = Path.Combine(dataDirectory, "rabbitmq", nodeName);
        Directory.CreateDirectory(home);

        var amqpPort = configuration.GetPort("Messaging:Local:AmqpPort", FreePort());
        var managementPort = configuration.GetPort("Messaging:Local:ManagementPort", FreePort());
        var distributionPort = configuration.GetPort("Messaging:Local:DistributionPort", FreePort());

        var configFile = Path.Combine(home, "rabbitmq.conf");
        File.WriteAllText(configFile, $"""
            # Written by the UserQueues AppHost at each start.
            listeners.tcp.default = {amqpPort}
            management.tcp.port = {managementPort}
            management.tcp.ip = 127.0.0.1
            """);
        var pluginsFile = Path.Combine(home, "enabled_plugins");
        File.WriteAllText(pluginsFile, "[rabbitmq_management].\n");

        var resource = new LocalRabbitMQResource(name, serverPath, home);
        var healthCheckKey = $"{name}-amqp-port";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheckKey, _ => new TcpPortHealthCheck(amqpPort), failureStatus: null, tags: null));

        return builder.AddResource(resource)
            .WithEndpoint(port: amqpPort, targetPort: amqpPort, scheme: "tcp", name: LocalRabbitMQResource.AmqpEndpointName, isProxied: false)
            .WithHttpEndpoint(port: managementPort, targetPort: managementPort, name: LocalRabbitMQResource.ManagementEndpointName, isProxied: false)
            .WithEnvironment("RABBITMQ_NODENAME", $"{nodeName}@localhost")
            .WithEnvironment("RABBITMQ_NODE_PORT", amqpPort.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithEnvironment("RABBITMQ_DIST_PORT", distributionPort.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithEnvironment("RABBITMQ_BASE", home)
            .WithEnvironment("RABBITMQ_MNESIA_BASE", Path.Combine(home, "mnesia"))
            .WithEnvironment("RABBITMQ_LOG_BASE", Path.Combine(home, "log"))
            .WithEnvironment("RABBITMQ_LOGS", "-")
            .WithEnvironment("RABBITMQ_PID_FILE", Path.Combine(home, "rabbitmq.pid"))
            .WithEnvironment("RABBITMQ_CONFIG_FILE", configFile)
            .WithEnvironment("RABBITMQ_ENABLED_PLUGINS_FILE", pluginsFile)
            // The Erlang cookie lives in $HOME; a private one per node.
            .WithEnvironment("HOME", home)
            .WithHealthCheck(healthCheckKey);
    }

    private static string ShortHash(string text) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..8];

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Healthy once the node accepts AMQP connections (RabbitMQ opens the listener when it has booted).</summary>
    private sealed class TcpPortHealthCheck(int port) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
                return HealthCheckResult.Healthy();
            }
            catch (SocketException e)
            {
                return HealthCheckResult.Unhealthy($"RabbitMQ does not accept connections on port {port} yet: {e.SocketErrorCode}");
            }
        }
    }
}
