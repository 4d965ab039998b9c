namespace UserQueues.AppHost;

internal static class BrokerManagement
{
    /// <summary>The management endpoint of a container or local broker (both have the plugin on).</summary>
    public const string EndpointName = "management";

    /// <summary>
    /// Tells a service where the broker's management HTTP API is (the API's background snapshot of
    /// queue figures). An external broker (RABBIT_URL) has no endpoint here: the service then uses
    /// <c>Messaging:Management:Url</c>, or the AMQP host on port 15672.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithBrokerManagement(
        this IResourceBuilder<ProjectResource> service, IResourceBuilder<IResourceWithConnectionString> messaging)
    {
        if (messaging.Resource is IResourceWithEndpoints broker)
        {
            service.WithEnvironment("Messaging__Management__Url", broker.GetEndpoint(EndpointName));
        }

        return service;
    }
}
