using Microsoft.Extensions.DependencyInjection;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;

namespace Microsoft.Extensions.Hosting;

public static class AdministrationExtensions
{
    /// <summary>
    /// Adds what the admin API needs beside <see cref="MessagingExtensions.AddUserQueuesMessaging"/>:
    /// bulk broker operations, the background snapshot of the management API and the audit log.
    /// </summary>
    public static TBuilder AddUserQueuesAdministration<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOptions<BrokerManagementOptions>()
            .BindConfiguration(BrokerManagementOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<QueueAdministration>();
        builder.Services.AddSingleton<BrokerSnapshotService>();
        builder.Services.AddHostedService(services => services.GetRequiredService<BrokerSnapshotService>());
        builder.Services.AddSingleton<IAuditLog, SqliteAuditLog>();
        builder.Services.AddHostedService<AuditLogStartup>();
        return builder;
    }

    private sealed class AuditLogStartup(IAuditLog audit) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => audit.InitializeAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
