using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using UserQueues.Messaging.Registry;
using UserQueues.Messaging.Signing;

namespace UserQueues.Worker.Delivery;

/// <summary>
/// Which secrets sign a user's deliveries: the user's own (current, and previous during a rotation),
/// else the global <c>Delivery:SigningSecret</c> (and <c>Delivery:PreviousSigningSecret</c>), else
/// none. A user's secrets are cached for <see cref="DeliveryOptions.SigningSecretCacheSeconds"/> so
/// that deliveries do not read the registry each time.
/// </summary>
public sealed class WebhookSigningKeys
{
    private readonly IWebhookSecretStore _store;
    private readonly TimeProvider _time;
    private readonly TimeSpan _cacheFor;
    private readonly IReadOnlyList<WebhookSecret> _global;
    private readonly ConcurrentDictionary<string, (IReadOnlyList<WebhookSecret> Secrets, DateTimeOffset Until)> _cache = new(StringComparer.Ordinal);

    public WebhookSigningKeys(IWebhookSecretStore store, IOptions<DeliveryOptions> options, TimeProvider time)
    {
        _store = store;
        _time = time;
        _cacheFor = TimeSpan.FromSeconds(options.Value.SigningSecretCacheSeconds);
        _global = new[] { options.Value.SigningSecret, options.Value.PreviousSigningSecret }
            .Where(text => !string.IsNullOrEmpty(text))
            .Select(text => WebhookSecret.TryParse(text, out _) ?? throw new OptionsValidationException(
                DeliveryOptions.SectionName, typeof(DeliveryOptions), ["A Delivery signing secret is not usable."]))
            .ToArray();
    }

    /// <summary>The secrets to sign <paramref name="userId"/>'s deliveries with, current first; empty: unsigned.</summary>
    public async ValueTask<IReadOnlyList<WebhookSecret>> ForUserAsync(string userId, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (_cache.TryGetValue(userId, out var cached) && cached.Until > now)
        {
            return cached.Secrets;
        }

        var own = await _store.FindAsync(userId, cancellationToken).ConfigureAwait(false);
        var secrets = own?.ToSignWith() ?? _global;
        _cache[userId] = (secrets, now + _cacheFor);
        return secrets;
    }
}
