using Microsoft.Extensions.Options;
using UserQueues.Worker;
using UserQueues.Worker.Consumers;
using UserQueues.Worker.Delivery;

namespace Microsoft.Extensions.Hosting;

internal static class Extensions
{
    /// <summary>The consumer pool, the callback client and the options they run with.</summary>
    public static void AddWorkerServices(this IHostApplicationBuilder builder)
    {
        builder.AddUserQueuesMessaging();
        builder.AddUserQueuesSecurity();

        builder.Services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<DeliveryOptions>().BindConfiguration(DeliveryOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<DeliveryOptions>, DeliveryOptionsValidator>();
        builder.Services.AddSingleton<ICallbackNetwork, SystemCallbackNetwork>();
        builder.Services.AddSingleton<CallbackConnector>();
        builder.Services.AddSingleton<WebhookSigningKeys>();

        // One HttpClient over one SocketsHttpHandler for every callback, built here rather than by
        // IHttpClientFactory: ServiceDefaults' client defaults (service discovery, resilience,
        // logging scopes) are for calls between our own services. On a callback, service discovery
        // would send a URL whose host is named like one of our services (http://api/...) to that
        // service, and retrying is the broker's job (ARCHITECTURE.md). System.Net.Http's own
        // tracing and metrics stay: they are part of HttpClient, not of the factory.
        builder.Services.AddSingleton(services =>
        {
            var delivery = services.GetRequiredService<IOptions<DeliveryOptions>>().Value;
            var http = new HttpClient(CallbackClient.CreateHandler(delivery, services.GetRequiredService<CallbackConnector>()))
            {
                Timeout = Timeout.InfiniteTimeSpan,
            };
            return ActivatorUtilities.CreateInstance<CallbackClient>(services, http);
        });

        builder.Services.AddSingleton<RetryPolicy>();
        builder.Services.AddSingleton<MessageHandler>();
        builder.Services.AddSingleton<DelayedForwarder>();
        builder.Services.AddSingleton<DeliveryGate>();
        builder.Services.AddSingleton<ConsumerPool>();
        builder.Services.AddSingleton<ControlListener>();
        builder.Services.AddHostedService<WorkerHost>();
        builder.Services.AddHostedService<QueueJanitor>();
        builder.Services.AddHostedService<DeadLetterSorter>();
        builder.Services.AddHostedService<QueueMetricsSnapshot>();
    }
}
