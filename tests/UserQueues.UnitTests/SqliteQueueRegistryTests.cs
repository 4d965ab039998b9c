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
        var first = await _registry.RegisterAsync("u1", 600_000, Now, CancellationToken.None);
        var again = await _registry.RegisterAsync("u1", 5_000, Now.AddHours(1), CancellationToken.None);

        Assert.Equal(new QueueRecord("u1", "queue.user.u1", "user.u1", 600_000, Now, ConsumerStatus.Running, 0, 0, 0, Now), first);
        Assert.Equal(first, again);
        Assert.Equal(first, await _registry.FindAsync("u1", CancellationToken.None));
        Assert.Null(await _registry.FindAsync("nobody", CancellationToken.None));
    }

    [Fact]
    public async Task StatusIsPersistedAndFiltersTheList()
    {
        await _registry.RegisterAsync("b", 1_000, Now, CancellationToken.None);
        await _registry.RegisterAsync("a", 1_000, Now, CancellationToken.None);
        await _registry.RegisterAsync("c", 1_000, Now, CancellationToken.None);

        Assert.True(await _registry.SetStatusAsync("b", ConsumerStatus.Stopped, CancellationToken.None));
        Assert.False(await _registry.SetStatusAsync("nobody", ConsumerStatus.Stopped, CancellationToken.None));

        Assert.Equal(["a", "b", "c"], (await _registry.ListAsync(null, CancellationToken.None)).Select(r => r.UserId));
        Assert.Equal(["a", "c"], (await _registry.ListAsync(ConsumerStatus.Running, CancellationToken.None)).Select(r => r.UserId));
        Assert.Equal(["b"], (await _registry.ListAsync(ConsumerStatus.Stopped, CancellationToken.None)).Select(r => r.UserId));
    }

    [Fact]
    public async Task CountsAreAddedAndStampTheLastActivity()
    {
        await _registry.RegisterAsync("u1", 1_000, Now, CancellationToken.None);
        var later = Now.AddMinutes(5);

        await _registry.AddCountsAsync([new CounterDelta("u1", 3, 2, 1), new CounterDelta("ghost", 1, 0, 0)], later, CancellationToken.None);
        await _registry.AddCountsAsync([new CounterDelta("u1", 1, 1, 0)], later, CancellationToken.None);

        var record = await _registry.FindAsync("u1", CancellationToken.None);
        Assert.Equal((4L, 3L, 1L, later), (record!.Published, record.Delivered, record.Failed, record.LastActivityAt!.Value));
    }

    [Fact]
    public async Task TwoProcessesSharingTheFileSeeEachOthersWrites()
    {
        var other = new SqliteQueueRegistry(Options.Create(new RegistryOptions { Path = Path.Combine(_directory, "nested", "registry.db") }));
        await other.InitializeAsync(CancellationToken.None);

        await other.RegisterAsync("u9", 1_000, Now, CancellationToken.None);

        Assert.NotNull(await _registry.FindAsync("u9", CancellationToken.None));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
