using Microsoft.Extensions.Http.Resilience;
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

        // REVIEW: RemoveAllResilienceHandlers (below) is marked experimental (EXTEXP0001); it is the
        // documented way to opt one client out of ConfigureHttpClientDefaults' resilience handler.
#pragma warning disable EXTEXP0001
        var delivery = builder.Configuration.GetSection(DeliveryOptions.SectionName).Get<DeliveryOptions>() ?? new DeliveryOptions();
        builder.Services.AddHttpClient<CallbackClient>(http => http.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(services => CallbackClient.CreateHandler(delivery, services.GetRequiredService<CallbackConnector>()))
            // Retrying is the broker's job (ARCHITECTURE.md): no resilience handler on callbacks.
            .RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001

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
