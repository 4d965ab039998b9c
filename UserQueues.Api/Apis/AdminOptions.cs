using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace UserQueues.Api.Apis;

/// <summary>Who may use the admin API (section <c>Admin</c>; the seed's <c>ADMIN_API_KEY</c> feeds <c>Admin:ApiKey</c>).</summary>
public sealed class AdminOptions
{
    public const string SectionName = "Admin";

    /// <summary>The seed's default key: fine on a developer's machine, refused anywhere else.</summary>
    public const string DefaultApiKey = "change-me";

    /// <summary>The identity recorded in the audit log for <see cref="ApiKey"/>.</summary>
    public const string DefaultKeyIdentity = "api-key";

    /// <summary>The seed's single admin key (<c>ADMIN_API_KEY</c>).</summary>
    public string ApiKey { get; set; } = DefaultApiKey;

    /// <summary>
    /// More keys, each with the name the audit log records for it (<c>Admin__Keys__alice=...</c>),
    /// so that operators can be told apart and one key revoked without the others.
    /// </summary>
    public Dictionary<string, string> Keys { get; set; } = [];

    /// <summary>Every accepted key with its identity.</summary>
    public IEnumerable<(string Identity, string Key)> AllKeys() =>
        Keys.Select(pair => (pair.Key, pair.Value)).Prepend((DefaultKeyIdentity, ApiKey));
}

/// <summary>
/// Refuses to start with a key anyone can guess: an empty key always, the seed's default
/// <c>change-me</c> outside Development.
/// </summary>
internal sealed class AdminOptionsValidator(IHostEnvironment environment) : IValidateOptions<AdminOptions>
{
    public ValidateOptionsResult Validate(string? name, AdminOptions options)
    {
        var failures = new List<string>();
        foreach (var (identity, key) in options.AllKeys())
        {
            var setting = identity == AdminOptions.DefaultKeyIdentity ? "Admin:ApiKey (ADMIN_API_KEY)" : $"Admin:Keys:{identity}";
            if (string.IsNullOrWhiteSpace(key))
            {
                failures.Add($"{setting} is empty. Set it to a long random secret, e.g. the output of 'openssl rand -hex 32'.");
            }
            else if (key == AdminOptions.DefaultApiKey && !environment.IsDevelopment())
            {
                failures.Add($"{setting} is the default '{AdminOptions.DefaultApiKey}', which is accepted only in the Development " +
                    $"environment (this one is '{environment.EnvironmentName}'). Set ADMIN_API_KEY to a long random secret, " +
                    "e.g. the output of 'openssl rand -hex 32'.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>
/// The admin group's authentication: header <c>x-api-key</c>, compared in constant time with
/// every configured key (hashes of equal length, <see cref="CryptographicOperations.FixedTimeEquals"/>),
/// so neither the key's content nor its length leaks through timing.
/// </summary>
internal sealed class AdminApiKeyFilter(IOptionsMonitor<AdminOptions> options) : IEndpointFilter
{
    public const string HeaderName = "x-api-key";

    private static readonly object ActorItemKey = new();

    /// <summary>The identity of the key that authenticated this request (for the audit log).</summary>
    public static string ActorOf(HttpContext context) =>
        context.Items.TryGetValue(ActorItemKey, out var actor) && actor is string name ? name : AdminOptions.DefaultKeyIdentity;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var presented = http.Request.Headers[HeaderName].ToString();
        if (presented.Length == 0)
        {
            return Unauthorized(http, $"Send the admin API key in the '{HeaderName}' header (ADMIN_API_KEY of the API).");
        }

        if (Identify(presented) is not { } identity)
        {
            return Unauthorized(http, $"The '{HeaderName}' header does not hold a valid admin API key.");
        }

        http.Items[ActorItemKey] = identity;
        return await next(context);
    }

    private string? Identify(string presented)
    {
        Span<byte> presentedHash = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> keyHash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), presentedHash);
        string? match = null;
        // Every key is compared, matching or not, so the time does not say which one matched.
        foreach (var (identity, key) in options.CurrentValue.AllKeys())
        {
            if (string.IsNullOrEmpty(key))
            {
                continue;
            }

            SHA256.HashData(Encoding.UTF8.GetBytes(key), keyHash);
            if (CryptographicOperations.FixedTimeEquals(presentedHash, keyHash) && match is null)
            {
                match = identity;
            }
        }

        return match;
    }

    private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult Unauthorized(HttpContext http, string detail)
    {
        http.Response.Headers.WWWAuthenticate = $"ApiKey header=\"{HeaderName}\"";
        return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Admin API key required", detail: detail);
    }
}
