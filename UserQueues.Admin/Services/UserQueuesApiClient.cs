using Polly;

namespace UserQueues.Admin.Services;

/// <summary>Typed HTTP client for the UserQueues API, resolved through Aspire service discovery.</summary>
public sealed class UserQueuesApiClient(HttpClient httpClient)
{
    /// <summary>Configuration key that overrides the API base address.</summary>
    public const string BaseAddressKey = "Admin:ApiBaseAddress";

    /// <summary>The API as named in the Aspire app model ("http+http" lets service discovery pick the endpoint).</summary>
    public const string DefaultBaseAddress = "http+http://api";

    private static readonly TimeSpan AliveTimeout = TimeSpan.FromSeconds(5);

    private readonly HttpClient _httpClient = httpClient;

    /// <summary>Calls the API's liveness endpoint; false when it cannot be reached in time or does not answer 2xx.</summary>
    public async Task<bool> IsApiAliveAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(AliveTimeout);

        try
        {
            using var response = await _httpClient.GetAsync(new Uri("/alive", UriKind.Relative), timeout.Token);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Our own timeout (or HttpClient.Timeout) fired, not the caller's cancellation.
            return false;
        }
        catch (ExecutionRejectedException)
        {
            // The resilience pipeline from the service defaults gave up (timeout or open circuit).
            return false;
        }
    }
}

public static class UserQueuesApiClientExtensions
{
    /// <summary>Registers <see cref="UserQueuesApiClient"/> with its base address from configuration.</summary>
    public static IHostApplicationBuilder AddUserQueuesApiClient(this IHostApplicationBuilder builder)
    {
        var baseAddress = builder.Configuration[UserQueuesApiClient.BaseAddressKey] is { Length: > 0 } configured
            ? configured
            : UserQueuesApiClient.DefaultBaseAddress;

        builder.Services.AddHttpClient<UserQueuesApiClient>(client => client.BaseAddress = new Uri(baseAddress));
        return builder;
    }
}
