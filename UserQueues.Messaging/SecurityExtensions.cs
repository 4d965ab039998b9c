using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using UserQueues.Messaging.Egress;
using UserQueues.Messaging.Registry;

namespace Microsoft.Extensions.Hosting;

public static class SecurityExtensions
{
    /// <summary>
    /// Adds what the API and the worker share to keep callbacks safe: the callback address policy
    /// (<c>Delivery:AllowPrivateNetworks</c>, <c>Delivery:AllowedNetworks</c>, validated at start)
    /// and the store of per-user signing secrets.
    /// </summary>
    public static TBuilder AddUserQueuesSecurity<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOptions<CallbackEgressOptions>()
            .BindConfiguration(CallbackEgressOptions.SectionName)
            .ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CallbackEgressOptions>, CallbackEgressOptionsValidator>());
        builder.Services.TryAddSingleton<CallbackAddressPolicy>();
        builder.Services.TryAddSingleton<IWebhookSecretStore, SqliteWebhookSecretStore>();
        return builder;
    }
}
