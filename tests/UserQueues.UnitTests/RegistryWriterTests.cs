using Microsoft.Data.Sqlite;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;

namespace UserQueues.UnitTests;

/// <summary>The registry's group commit: concurrent writes share transactions, a failing one is rolled back alone.</summary>
public sealed class RegistryWriterTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("uq-writer-").FullName;
    private readonly RegistryDatabase _database;

    public RegistryWriterTests()
    {
        _database = new RegistryDatabase(new RegistryOptions { Path = Path.Combine(_directory, "registry.db") });
        _database.WriteAsync((connection, ct) => ExecuteAsync(connection, "PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)", ct), CancellationToken.None)
            .GetAwaiter().GetResult();
    }

    [Fact]
    public async Task ConcurrentWritesAreAllCommittedAndEachGetsItsOwnResult()
    {
        var writes = Enumerable.Range(0, 500).Select(i => Task.Run(() =>
            _database.WriteAsync(async (connection, ct) =>
            {
                await ExecuteAsync(connection, $"INSERT INTO t (k, v) VALUES ('k{i}', {i})", ct);
                return i * 2;
            }, CancellationToken.None))).ToArray();

        var results = await Task.WhenAll(writes);

        Assert.Equal(Enumerable.Range(0, 500).Select(i => i * 2), results);
        Assert.Equal(500, await CountAsync());
        Assert.Equal(Enumerable.Range(0, 500).Sum(), await ScalarAsync("SELECT sum(v) FROM t"));
    }

    [Fact]
    public async Task AFailingWriteIsRolledBackAloneAndThrowsToItsCaller()
    {
        // Held so that all three land in one batch: the first write waits until the others are queued.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = _database.WriteAsync(async (connection, ct) =>
        {
            await release.Task;
            return await ExecuteAsync(connection, "INSERT INTO t (k, v) VALUES ('a', 1)", ct);
        }, CancellationToken.None);
        var failing = _database.WriteAsync(async (connection, ct) =>
        {
            await ExecuteAsync(connection, "INSERT INTO t (k, v) VALUES ('b', 2)", ct); // undone with the rest of this write
            return await ExecuteAsync(connection, "INSERT INTO t (k, v) VALUES ('a', 3)", ct); // duplicate key
        }, CancellationToken.None);
        var last = _database.WriteAsync((connection, ct) => ExecuteAsync(connection, "INSERT INTO t (k, v) VALUES ('c', 4)", ct), CancellationToken.None);
        release.SetResult();

        await first;
        var error = await Assert.ThrowsAsync<SqliteException>(() => failing);
        await last;

        Assert.Contains("UNIQUE", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, await CountAsync());
        Assert.Equal(5, await ScalarAsync("SELECT sum(v) FROM t"));
    }

    [Fact]
    public async Task ACancelledWriteChangesNothing()
    {
        using var cancelled = new CancellationTokenSource();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = _database.WriteAsync(async (connection, ct) =>
        {
            await release.Task;
            return await ExecuteAsync(connection, "INSERT INTO t (k, v) VALUES ('a', 1)", ct);
        }, CancellationToken.None);
        var write = _database.WriteAsync((connection, ct) => ExecuteAsync(connection, "INSERT INTO t (k, v) VALUES ('b', 2)", ct), cancelled.Token);
        await cancelled.CancelAsync();
        release.SetResult();

        await blocker;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write);
        Assert.Equal(1, await CountAsync());
    }

    [Fact]
    public async Task WritesOfTwoStoresOnOneFileShareTheWriter()
    {
        // A second RegistryDatabase of the same file (as the secret store and the registry are).
        var other = new RegistryDatabase(new RegistryOptions { Path = Path.Combine(_directory, "registry.db") });
        var writes = Enumerable.Range(0, 200).Select(i => (i % 2 == 0 ? _database : other)
            .WriteAsync((connection, ct) => ExecuteAsync(connection, $"INSERT INTO t (k, v) VALUES ('k{i}', 1)", ct), CancellationToken.None));

        await Task.WhenAll(writes);

        Assert.Equal(200, await CountAsync());
    }

    private Task<long> CountAsync() => ScalarAsync("SELECT count(*) FROM t");

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = await _database.OpenAsync(CancellationToken.None);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<int> ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
