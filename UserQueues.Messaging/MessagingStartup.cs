using Microsoft.Extensions.Hosting;
using UserQueues.Messaging.Registry;

namespace UserQueues.Messaging;

/// <summary>Creates the registry schema and the shared broker topology before the process serves anything.</summary>
internal sealed class MessagingStartup(IQueueRegistry registry, BrokerTopology topology) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await registry.InitializeAsync(cancellationToken).ConfigureAwait(false);
        await topology.DeclareSharedAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
