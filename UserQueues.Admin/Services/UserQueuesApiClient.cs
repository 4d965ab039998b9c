using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Polly;

namespace UserQueues.Admin.Services;

/// <summary>
/// Typed HTTP client for the UserQueues API, resolved through Aspire service discovery. The admin
/// app talks to nothing else: every admin call carries the signed-in operator's key.
/// </summary>
public sealed class UserQueuesApiClient(HttpClient httpClient)
{
    /// <summary>Configuration key that overrides the API base address.</summary>
    public const string BaseAddressKey = "Admin:ApiBaseAddress";

    /// <summary>The API as named in the Aspire app model ("http+http" lets service discovery pick the endpoint).</summary>
    public const string DefaultBaseAddress = "http+http://api";

    public const string ApiKeyHeader = "x-api-key";

    private static readonly TimeSpan AliveTimeout = TimeSpan.FromSeconds(5);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

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
        catch (Exception e) when (IsUnavailable(e, cancellationToken))
        {
            return false;
        }
    }

    /// <summary>True when the API accepts <paramref name="apiKey"/>; false when it refuses it.</summary>
    /// <exception cref="AdminApiException">The API could not be reached.</exception>
    public async Task<bool> IsValidKeyAsync(string apiKey, CancellationToken cancellationToken)
    {
        try
        {
            await SendAsync<QueueListPage>(HttpMethod.Get, "/admin/queues?pageSize=1", apiKey, null, cancellationToken);
            return true;
        }
        catch (AdminApiException e) when (e.Failure == ApiFailure.Unauthorized)
        {
            return false;
        }
    }

    public Task<QueueListPage> ListQueuesAsync(string apiKey, QueueListRequest request, CancellationToken cancellationToken)
    {
        var query = new StringBuilder($"/admin/queues?page={request.Page}&pageSize={request.PageSize}");
        if (!string.IsNullOrWhiteSpace(request.Search))
        {
            query.Append("&search=").Append(Uri.EscapeDataString(request.Search.Trim()));
        }

        if (!string.IsNullOrEmpty(request.Status))
        {
            query.Append("&status=").Append(Uri.EscapeDataString(request.Status));
        }

        if (!string.IsNullOrEmpty(request.Sort))
        {
            query.Append("&sort=").Append(Uri.EscapeDataString(request.Sort));
        }

        return SendAsync<QueueListPage>(HttpMethod.Get, query.ToString(), apiKey, null, cancellationToken);
    }

    public Task<QueueDetail> GetQueueAsync(string apiKey, string userId, CancellationToken cancellationToken) =>
        SendAsync<QueueDetail>(HttpMethod.Get, $"/admin/queues/{Uri.EscapeDataString(userId)}", apiKey, null, cancellationToken);

    public Task<AuditPage> ListAuditAsync(string apiKey, int page, int pageSize, CancellationToken cancellationToken) =>
        SendAsync<AuditPage>(HttpMethod.Get, $"/admin/audit?page={page}&pageSize={pageSize}", apiKey, null, cancellationToken);

    public Task<JsonElement> StopConsumerAsync(string apiKey, string userId, CancellationToken cancellationToken) =>
        SendAsync<JsonElement>(HttpMethod.Post, "/admin/stop-consumer", apiKey, new { userId }, cancellationToken);

    public Task<JsonElement> StartConsumerAsync(string apiKey, string userId, CancellationToken cancellationToken) =>
        SendAsync<JsonElement>(HttpMethod.Post, "/admin/start-consumer", apiKey, new { userId }, cancellationToken);

    public Task<JsonElement> PurgeAsync(string apiKey, string userId, CancellationToken cancellationToken) =>
        SendAsync<JsonElement>(HttpMethod.Post, "/admin/reset-queue", apiKey, new { userId }, cancellationToken);

    public Task<JsonElement> StopAllAsync(string apiKey, CancellationToken cancellationToken) =>
        SendAsync<JsonElement>(HttpMethod.Post, "/admin/stop-all", apiKey, null, cancellationToken);

    public Task<JsonElement> StartAllAsync(string apiKey, CancellationToken cancellationToken) =>
        SendAsync<JsonElement>(HttpMethod.Post, "/admin/start-all", apiKey, null, cancellationToken);

    public Task<JsonElement> ResetAllAsync(string apiKey, CancellationToken cancellationToken) =>
        SendAsync<JsonElement>(HttpMethod.Post, "/admin/reset-all", apiKey, null, cancellationToken);

    public Task<DeadLetterList> ListDeadLettersAsync(string apiKey, string userId, CancellationToken cancellationToken) =>
        SendAsync<DeadLetterList>(HttpMethod.Get, $"/admin/dead-letters?userId={Uri.EscapeDataString(userId)}&pageSize=100", apiKey, null, cancellationToken);

    /// <summary>Replays the user's dead letters: all of them, or the one <paramref name="messageId"/>; returns how many.</summary>
    public async Task<int> ReplayDeadLettersAsync(string apiKey, string userId, string? messageId, CancellationToken cancellationToken)
    {
        object body = messageId is null ? new { userId } : new { userId, messageIds = new[] { messageId } };
        return (await SendAsync<JsonElement>(HttpMethod.Post, "/admin/dead-letters/replay", apiKey, body, cancellationToken)).GetProperty("count").GetInt32();
    }

    public async Task<int> PurgeDeadLettersAsync(string apiKey, string userId, CancellationToken cancellationToken) =>
        (await SendAsync<JsonElement>(HttpMethod.Post, "/admin/dead-letters/purge", apiKey, new { userId }, cancellationToken)).GetProperty("count").GetInt32();

    /// <summary>Sends a message through the producer API, as a producer would; returns its messageId.</summary>
    public async Task<string> SendTestMessageAsync(string userId, string callbackUrl, JsonElement payload, CancellationToken cancellationToken)
    {
        var answer = await SendAsync<JsonElement>(HttpMethod.Post, "/send-message", apiKey: null, new { userId, callbackUrl, payload }, cancellationToken);
        return answer.GetProperty("messageId").GetString() ?? "";
    }

    private async Task<T> SendAsync<T>(HttpMethod method, string path, string? apiKey, object? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (apiKey is not null)
        {
            request.Headers.Add(ApiKeyHeader, apiKey);
        }

        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: Json);
        }

        HttpResponseMessage response;
        try
        {
            response = await _httpClient.SendAsync(request, cancellationToken);
        }
        catch (Exception e) when (IsUnavailable(e, cancellationToken))
        {
            throw new AdminApiException(ApiFailure.Unavailable, "The UserQueues API cannot be reached. Check that the api resource is running.", e);
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                throw new AdminApiException(ApiFailure.Unauthorized, "The API refused the admin key. Sign in again with the current key.");
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new AdminApiException(
                    (int)response.StatusCode >= 500 ? ApiFailure.Unavailable : ApiFailure.Refused,
                    await ProblemDetailAsync(response, cancellationToken));
            }

            return (await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken))!;
        }
    }

    private static async Task<string> ProblemDetailAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
            if (problem.ValueKind == JsonValueKind.Object && problem.TryGetProperty("detail", out var detail) && detail.GetString() is { Length: > 0 } text)
            {
                return text;
            }
        }
        catch (JsonException)
        {
            // Not problem details: say the status instead.
        }

        return $"The API answered {(int)response.StatusCode} {response.ReasonPhrase}.";
    }

    private static bool IsUnavailable(Exception e, CancellationToken cancellationToken) => e switch
    {
        HttpRequestException => true,
        // The resilience pipeline from the service defaults gave up (timeout or open circuit).
        ExecutionRejectedException => true,
        // A timeout (ours or HttpClient's), not the caller's cancellation.
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        _ => false,
    };
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
