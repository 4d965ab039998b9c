using Microsoft.Extensions.Options;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;

namespace UserQueues.UnitTests;

public sealed class AdminRegistryTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Directory.CreateTempSubdirectory("uq-admin-registry-").FullName;
    private readonly SqliteQueueRegistry _registry;
    private readonly SqliteAuditLog _audit;

    public AdminRegistryTests()
    {
        var options = Options.Create(new RegistryOptions { Path = Path.Combine(_directory, "registry.db") });
        _registry = new SqliteQueueRegistry(options);
        _audit = new SqliteAuditLog(options);
        _registry.InitializeAsync(CancellationToken.None).GetAwaiter().GetResult();
        _audit.InitializeAsync(CancellationToken.None).GetAwaiter().GetResult();
    }

    [Fact]
    public async Task SetAllStatusChangesEveryQueueInOneStatementAndCountsOnlyChanges()
    {
        foreach (var user in new[] { "a", "b", "c" })
        {
            await _registry.RegisterAsync(user, 1_000, QueueOrdering.Default, Now, CancellationToken.None);
        }

        await _registry.SetStatusAsync("b", ConsumerStatus.Stopped, CancellationToken.None);

        Assert.Equal(2, await _registry.SetAllStatusAsync(ConsumerStatus.Stopped, CancellationToken.None));
        Assert.Empty(await _registry.ListAsync(ConsumerStatus.Running, CancellationToken.None));
        Assert.Equal(3, await _registry.SetAllStatusAsync(ConsumerStatus.Running, CancellationToken.None));
        Assert.Equal(new RegistryTotals(3, 3, 0, 0, 0, 0), await _registry.TotalsAsync(CancellationToken.None));
    }

    [Fact]
    public async Task QueryPagesSortsSearchesAndFilters()
    {
        for (var i = 1; i <= 7; i++)
        {
            await _registry.RegisterAsync($"user-{i}", 1_000, QueueOrdering.Default, Now.AddMinutes(i), CancellationToken.None);
        }

        await _registry.RegisterAsync("other_1", 1_000, QueueOrdering.Default, Now, CancellationToken.None);
        await _registry.SetStatusAsync("user-3", ConsumerStatus.Stopped, CancellationToken.None);
        await _registry.AddCountsAsync([new CounterDelta("user-5", new QueueCounts(9, 4, 1, 0, 0))], Now, CancellationToken.None);

        var second = await _registry.QueryAsync(new QueueQuery(Page: 2, PageSize: 3, Search: "user-"), CancellationToken.None);
        Assert.Equal(7, second.Total);
        Assert.Equal(["user-4", "user-5", "user-6"], second.Items.Select(r => r.UserId));

        var stopped = await _registry.QueryAsync(new QueueQuery(Status: ConsumerStatus.Stopped), CancellationToken.None);
        Assert.Equal(["user-3"], stopped.Items.Select(r => r.UserId));

        var newest = await _registry.QueryAsync(new QueueQuery(PageSize: 1, Sort: QueueSortField.CreatedAt, Descending: true), CancellationToken.None);
        Assert.Equal("user-7", Assert.Single(newest.Items).UserId);

        var busiest = await _registry.QueryAsync(new QueueQuery(PageSize: 1, Sort: QueueSortField.Published, Descending: true), CancellationToken.None);
        Assert.Equal("user-5", Assert.Single(busiest.Items).UserId);

        // '_' is taken literally, not as SQL's one-character wildcard.
        var literal = await _registry.QueryAsync(new QueueQuery(Search: "r_1"), CancellationToken.None);
        Assert.Equal(["other_1"], literal.Items.Select(r => r.UserId));

        Assert.Equal(new RegistryTotals(8, 7, 1, 9, 4, 1), await _registry.TotalsAsync(CancellationToken.None));

        // Every match at once (the API's sort by a broker figure reads them all).
        var all = await _registry.QueryAsync(new QueueQuery(PageSize: int.MaxValue), CancellationToken.None);
        Assert.Equal(8, all.Items.Count);
    }

    [Fact]
    public async Task TheAuditLogListsEntriesNewestFirstAndPaged()
    {
        await _audit.AppendAsync(new AuditEntry(Now, "api-key", "stop-consumer", "u1", null), CancellationToken.None);
        await _audit.AppendAsync(new AuditEntry(Now.AddSeconds(1), "alice", "reset-all", null, "purged 3"), CancellationToken.None);
        await _audit.AppendAsync(new AuditEntry(Now.AddSeconds(2), "api-key", "start-consumer", "u1", null), CancellationToken.None);

        var first = await _audit.ListAsync(1, 2, CancellationToken.None);
        var second = await _audit.ListAsync(2, 2, CancellationToken.None);

        Assert.Equal(3, first.Total);
        Assert.Equal(["start-consumer", "reset-all"], first.Items.Select(e => e.Action));
        var last = Assert.Single(second.Items);
        Assert.Equal(("api-key", "stop-consumer", "u1", Now), (last.Actor, last.Action, last.Target, last.At));
        Assert.Equal("purged 3", first.Items[1].Detail);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
