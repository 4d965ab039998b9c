using Microsoft.Extensions.Options;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;

namespace UserQueues.UnitTests;

public sealed class SqliteQueueRegistryTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Directory.CreateTempSubdirectory("uq-registry-").FullName;
    private readonly SqliteQueueRegistry _registry;

    public SqliteQueueRegistryTests()
    {
        _registry = new SqliteQueueRegistry(Options.Create(new RegistryOptions { Path = Path.Combine(_directory, "nested", "registry.db") }));
        _registry.InitializeAsync(CancellationToken.None).GetAwaiter().GetResult();
    }

    [Fact]
    public async Task RegisteringRecordsTheSeedMetadataAndIsIdempotent()
    {
        var first = await _registry.RegisterAsync("u1", 600_000, QueueOrdering.Default, Now, CancellationToken.None);
        var again = await _registry.RegisterAsync("u1", 5_000, QueueOrdering.Default, Now.AddHours(1), CancellationToken.None);

        Assert.Equal(new QueueRecord("u1", "queue.user.u1", "user.u1", 600_000, QueueOrdering.Default, Now, ConsumerStatus.Running, default, Now), first);
        Assert.Equal(first, again);
        Assert.Equal(first, await _registry.FindAsync("u1", CancellationToken.None));
        Assert.Null(await _registry.FindAsync("nobody", CancellationToken.None));
    }

    [Fact]
    public async Task StatusIsPersistedAndFiltersTheList()
    {
        await _registry.RegisterAsync("b", 1_000, QueueOrdering.Default, Now, CancellationToken.None);
        await _registry.RegisterAsync("a", 1_000, QueueOrdering.Default, Now, CancellationToken.None);
        await _registry.RegisterAsync("c", 1_000, QueueOrdering.Default, Now, CancellationToken.None);

        Assert.True(await _registry.SetStatusAsync("b", ConsumerStatus.Stopped, CancellationToken.None));
        Assert.False(await _registry.SetStatusAsync("nobody", ConsumerStatus.Stopped, CancellationToken.None));

        Assert.Equal(["a", "b", "c"], (await _registry.ListAsync(null, CancellationToken.None)).Select(r => r.UserId));
        Assert.Equal(["a", "c"], (await _registry.ListAsync(ConsumerStatus.Running, CancellationToken.None)).Select(r => r.UserId));
        Assert.Equal(["b"], (await _registry.ListAsync(ConsumerStatus.Stopped, CancellationToken.None)).Select(r => r.UserId));
    }

    [Fact]
    public async Task CountsAreAddedAndStampTheLastActivity()
    {
        await _registry.RegisterAsync("u1", 1_000, QueueOrdering.Default, Now, CancellationToken.None);
        var later = Now.AddMinutes(5);

        await _registry.AddCountsAsync([new CounterDelta("u1", new QueueCounts(3, 2, 1, 1, 0)), new CounterDelta("ghost", new QueueCounts(1, 0, 0, 0, 0))], later, CancellationToken.None);
        await _registry.AddCountsAsync([new CounterDelta("u1", new QueueCounts(1, 1, 0, 0, 1))], later, CancellationToken.None);

        var record = await _registry.FindAsync("u1", CancellationToken.None);
        Assert.Equal(new QueueCounts(4, 3, 1, 1, 1), record!.Counts);
        Assert.Equal(later, record.LastActivityAt);
    }

    [Fact]
    public async Task QueuesIdlePastTheirTtlAreListedAndRemovedOnlyIfStillIdle()
    {
        await _registry.RegisterAsync("short", 1_000, QueueOrdering.Default, Now, CancellationToken.None);
        await _registry.RegisterAsync("long", 600_000, QueueOrdering.Default, Now, CancellationToken.None);
        await _registry.RegisterAsync("stopped", 1_000, QueueOrdering.Default, Now, CancellationToken.None);
        await _registry.SetStatusAsync("stopped", ConsumerStatus.Stopped, CancellationToken.None);

        var idle = await _registry.ListIdleAsync(Now.AddSeconds(2), 100, CancellationToken.None);
        Assert.Equal(["short"], idle.Select(q => q.UserId));

        // Used again after the janitor looked: it stays.
        await _registry.TouchAsync("short", Now.AddSeconds(3), CancellationToken.None);
        Assert.False(await _registry.RemoveIfIdleAsync("short", idle[0].LastActivityAt, CancellationToken.None));
        Assert.Empty(await _registry.ListIdleAsync(Now.AddSeconds(3.5), 100, CancellationToken.None));

        var again = Assert.Single(await _registry.ListIdleAsync(Now.AddSeconds(5), 100, CancellationToken.None));
        Assert.True(await _registry.RemoveIfIdleAsync("short", again.LastActivityAt, CancellationToken.None));
        Assert.Null(await _registry.FindAsync("short", CancellationToken.None));
        Assert.False(await _registry.RemoveIfIdleAsync("stopped", Now, CancellationToken.None));
    }

    [Fact]
    public async Task TheOrderingModeIsRecorded()
    {
        await _registry.RegisterAsync("strict-1", 1_000, QueueOrdering.Strict, Now, CancellationToken.None);
        Assert.Equal(QueueOrdering.Strict, (await _registry.FindAsync("strict-1", CancellationToken.None))!.Ordering);
    }

    [Fact]
    public async Task ARegistryFileOfTheFirstSchemaGetsTheNewColumns()
    {
        var path = Path.Combine(_directory, "old.db");
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                CREATE TABLE queues (user_id TEXT NOT NULL PRIMARY KEY, queue_name TEXT NOT NULL, routing_key TEXT NOT NULL,
                    ttl_ms INTEGER NOT NULL, created_at INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'running',
                    published INTEGER NOT NULL DEFAULT 0, delivered INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
                    last_activity_at INTEGER NULL);
                INSERT INTO queues (user_id, queue_name, routing_key, ttl_ms, created_at, published) VALUES ('old', 'queue.user.old', 'user.old', 600000, 0, 7);
                """;
            await command.ExecuteNonQueryAsync();
        }

        var registry = new SqliteQueueRegistry(Options.Create(new RegistryOptions { Path = path }));
        await registry.InitializeAsync(CancellationToken.None);

        var record = await registry.FindAsync("old", CancellationToken.None);
        Assert.Equal(QueueOrdering.Default, record!.Ordering);
        Assert.Equal(new QueueCounts(7, 0, 0, 0, 0), record.Counts);
    }

    [Fact]
    public async Task TwoProcessesSharingTheFileSeeEachOthersWrites()
    {
        var other = new SqliteQueueRegistry(Options.Create(new RegistryOptions { Path = Path.Combine(_directory, "nested", "registry.db") }));
        await other.InitializeAsync(CancellationToken.None);

        await other.RegisterAsync("u9", 1_000, QueueOrdering.Default, Now, CancellationToken.None);

        Assert.NotNull(await _registry.FindAsync("u9", CancellationToken.None));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
