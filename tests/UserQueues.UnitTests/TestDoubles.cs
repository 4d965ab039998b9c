using System.Collections.Concurrent;
using UserQueues.Messaging.Registry;
using UserQueues.Messaging.Signing;

namespace UserQueues.UnitTests;

/// <summary>Time that moves only when a test says so.</summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private long _ticks = TimeSpan.FromDays(1).Ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero).AddTicks(Interlocked.Read(ref _ticks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

public sealed class InMemorySecretStore : IWebhookSecretStore
{
    private readonly ConcurrentDictionary<string, UserSigningSecrets> _secrets = new();

    public Task<UserSigningSecrets?> FindAsync(string userId, CancellationToken cancellationToken) =>
        Task.FromResult(_secrets.TryGetValue(userId, out var s) ? s : null);

    public Task<bool> AddIfMissingAsync(string userId, WebhookSecret secret, DateTimeOffset at, CancellationToken cancellationToken) =>
        Task.FromResult(_secrets.TryAdd(userId, new UserSigningSecrets(secret, null)));

    public Task<bool> RotateAsync(string userId, WebhookSecret newSecret, DateTimeOffset at, CancellationToken cancellationToken) =>
        Task.FromResult(_secrets.TryGetValue(userId, out var s) && _secrets.TryUpdate(userId, new UserSigningSecrets(newSecret, s.Current), s));

    public Task<bool> EndRotationAsync(string userId, CancellationToken cancellationToken) =>
        Task.FromResult(_secrets.TryGetValue(userId, out var s) && _secrets.TryUpdate(userId, s with { Previous = null }, s));
}
