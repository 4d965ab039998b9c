using Microsoft.Extensions.Options;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;
using UserQueues.Messaging.Signing;

namespace UserQueues.UnitTests;

public sealed class SqliteWebhookSecretStoreTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Directory.CreateTempSubdirectory("uq-secrets-").FullName;
    private readonly SqliteWebhookSecretStore _store;

    public SqliteWebhookSecretStoreTests() =>
        _store = new SqliteWebhookSecretStore(Options.Create(new RegistryOptions { Path = Path.Combine(_directory, "registry.db") }));

    [Fact]
    public async Task AUsersSecretIsStoredOnceAndKept()
    {
        var first = WebhookSecret.Generate();

        Assert.True(await _store.AddIfMissingAsync("u1", first, Now, CancellationToken.None));
        Assert.False(await _store.AddIfMissingAsync("u1", WebhookSecret.Generate(), Now, CancellationToken.None));

        var stored = await _store.FindAsync("u1", CancellationToken.None);
        Assert.Equal(first.Reveal(), stored!.Current.Reveal());
        Assert.Null(stored.Previous);
        Assert.Null(await _store.FindAsync("nobody", CancellationToken.None));
    }

    [Fact]
    public async Task RotationKeepsThePreviousSecretUntilItEnds()
    {
        var old = WebhookSecret.Generate();
        var rotated = WebhookSecret.Generate();
        await _store.AddIfMissingAsync("u1", old, Now, CancellationToken.None);

        Assert.True(await _store.RotateAsync("u1", rotated, Now.AddDays(1), CancellationToken.None));
        var during = (await _store.FindAsync("u1", CancellationToken.None))!;
        Assert.Equal([rotated.Reveal(), old.Reveal()], during.ToSignWith().Select(s => s.Reveal()));

        Assert.True(await _store.EndRotationAsync("u1", CancellationToken.None));
        var after = (await _store.FindAsync("u1", CancellationToken.None))!;
        Assert.Equal([rotated.Reveal()], after.ToSignWith().Select(s => s.Reveal()));

        Assert.False(await _store.RotateAsync("nobody", rotated, Now, CancellationToken.None));
        Assert.False(await _store.EndRotationAsync("nobody", CancellationToken.None));
    }

    [Fact]
    public async Task TheSecretTableLivesBesideTheQueueRegistry()
    {
        var registry = new SqliteQueueRegistry(Options.Create(new RegistryOptions { Path = Path.Combine(_directory, "registry.db") }));
        await registry.InitializeAsync(CancellationToken.None);
        await registry.RegisterAsync("u1", 1_000, QueueOrdering.Default, Now, CancellationToken.None);

        Assert.True(await _store.AddIfMissingAsync("u1", WebhookSecret.Generate(), Now, CancellationToken.None));
        Assert.NotNull(await registry.FindAsync("u1", CancellationToken.None));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
