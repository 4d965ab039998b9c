using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;

namespace Microsoft.Extensions.Hosting;

public static class MessagingExtensions
{
    /// <summary>The Aspire resource (and connection string) name of the broker.</summary>
    public const string BrokerResourceName = "messaging";

    /// <summary>
    /// Adds the broker connection (Aspire's RabbitMQ client: one connection, health check, traces),
    /// the channel pools, topology, publisher and the queue registry, with options validated at start.
    /// </summary>
    public static TBuilder AddUserQueuesMessaging<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        if (string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(BrokerResourceName)))
        {
            throw new InvalidOperationException(
                $"No message broker is configured. Set RABBIT_URL (e.g. amqp://guest:guest@localhost:5672) or " +
                $"ConnectionStrings__{BrokerResourceName}, or run the whole system with the AppHost, which provides one.");
        }

        // RabbitMQ.Client's own spans are off: UserQueues owns the publish and process spans and
        // the trace context in the headers (why: Telemetry/UserQueuesTelemetry.cs).
        builder.AddRabbitMQClient(BrokerResourceName, settings => settings.DisableTracing = true, factory =>
        {
            factory.ClientProvidedName = builder.Environment.ApplicationName;
            // Recover the connection, channels and consumers after a broker restart or network cut.
            factory.AutomaticRecoveryEnabled = true;
            factory.TopologyRecoveryEnabled = true;
            factory.NetworkRecoveryInterval = TimeSpan.FromSeconds(2);
        });

        builder.Services.AddOptions<MessagingOptions>()
            .BindConfiguration(MessagingOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddOptions<RegistryOptions>()
            .BindConfiguration(RegistryOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<BrokerChannels>();
        builder.Services.AddSingleton<BrokerTopology>();
        builder.Services.AddSingleton<MessagePublisher>();
        builder.Services.AddSingleton<UserQueueProvisioner>();
        builder.Services.AddSingleton<DeadLetters>();
        builder.Services.AddSingleton<IQueueRegistry, SqliteQueueRegistry>();
        builder.Services.AddSingleton<QueueCounters>();
        builder.Services.AddHostedService<MessagingStartup>();
        builder.Services.AddHostedService<QueueCountersFlusher>();

        return builder;
    }
}
