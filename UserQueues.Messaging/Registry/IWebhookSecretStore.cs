using UserQueues.Messaging.Signing;

namespace UserQueues.Messaging.Registry;

/// <summary>A user's signing secrets: the current one, and during a rotation the previous one too.</summary>
public sealed record UserSigningSecrets(WebhookSecret Current, WebhookSecret? Previous)
{
    /// <summary>The secrets to sign with, current first.</summary>
    public IReadOnlyList<WebhookSecret> ToSignWith() => Previous is null ? [Current] : [Current, Previous];
}

/// <summary>
/// Per-user signing secrets, kept beside the queue registry. Rotation-ready: <see cref="RotateAsync"/>
/// keeps the old secret as previous (both are signed with) until <see cref="EndRotationAsync"/>.
/// </summary>
public interface IWebhookSecretStore
{
    Task<UserSigningSecrets?> FindAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Stores <paramref name="secret"/> as the user's secret unless the user has one; true when it was stored.</summary>
    Task<bool> AddIfMissingAsync(string userId, WebhookSecret secret, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Makes <paramref name="newSecret"/> current and the current one previous; false when the user has no secret.</summary>
    Task<bool> RotateAsync(string userId, WebhookSecret newSecret, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Forgets the previous secret: deliveries are signed with the current one only; false when the user has no secret.</summary>
    Task<bool> EndRotationAsync(string userId, CancellationToken cancellationToken);
}
