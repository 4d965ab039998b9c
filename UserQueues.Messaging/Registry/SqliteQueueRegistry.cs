using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace UserQueues.Messaging.Registry;

/// <summary>
/// The embedded registry: one SQLite file in WAL mode, shared by the API and the workers of one
/// machine (https://www.sqlite.org/wal.html: readers never block the writer).
/// </summary>
public sealed class SqliteQueueRegistry : IQueueRegistry
{
    private const string Columns =
        "user_id, queue_name, routing_key, ttl_ms, ordering, created_at, status, published, delivered, failed, retried, dead_lettered, last_activity_at";

    /// <summary>Columns added after the first schema, with their definitions, added to older files at start.</summary>
    private static readonly (string Name, string Definition)[] AddedColumns =
    [
        ("ordering", "TEXT NOT NULL DEFAULT 'default'"),
        ("retried", "INTEGER NOT NULL DEFAULT 0"),
        ("dead_lettered", "INTEGER NOT NULL DEFAULT 0"),
    ];

    private readonly RegistryDatabase _database;

    public SqliteQueueRegistry(IOptions<RegistryOptions> options)
    {
        _database = new RegistryDatabase(options.Value);
    }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await RegistryDatabase.ExecuteAsync(connection, """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS queues (
                user_id          TEXT    NOT NULL PRIMARY KEY,
                queue_name       TEXT    NOT NULL,
                routing_key      TEXT    NOT NULL,
                ttl_ms           INTEGER NOT NULL,
                created_at       INTEGER NOT NULL,
                status           TEXT    NOT NULL DEFAULT 'running',
                published        INTEGER NOT NULL DEFAULT 0,
                delivered        INTEGER NOT NULL DEFAULT 0,
                failed           INTEGER NOT NULL DEFAULT 0,
                last_activity_at INTEGER NULL
            );
            CREATE INDEX IF NOT EXISTS ix_queues_status ON queues (status, user_id);
            """, cancellationToken).ConfigureAwait(false);

        var existing = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        await using (var info = connection.CreateCommand())
        {
            info.CommandText = "SELECT name FROM pragma_table_info('queues')";
            await using var reader = await info.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                existing.Add(reader.GetString(0));
            }
        }

        foreach (var (name, definition) in AddedColumns.Where(c => !existing.Contains(c.Name)))
        {
            try
            {
                await RegistryDatabase.ExecuteAsync(connection, $"ALTER TABLE queues ADD COLUMN {name} {definition}", cancellationToken).ConfigureAwait(false);
            }
            catch (SqliteException e) when (e.Message.Contains("duplicate column", StringComparison.OrdinalIgnoreCase))
            {
                // Another process added it at the same moment.
            }
        }
    }

    public async Task<QueueRecord?> FindAsync(string userId, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM queues WHERE user_id = $userId";
        command.Parameters.AddWithValue("$userId", userId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    public Task<QueueRecord> RegisterAsync(string userId, long ttlMs, QueueOrdering ordering, DateTimeOffset createdAt, CancellationToken cancellationToken)
    {
        return _database.WriteAsync(async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"""
                INSERT INTO queues (user_id, queue_name, routing_key, ttl_ms, ordering, created_at, last_activity_at)
                VALUES ($userId, $queueName, $routingKey, $ttlMs, $ordering, $createdAt, $createdAt)
                ON CONFLICT (user_id) DO NOTHING;
                SELECT {Columns} FROM queues WHERE user_id = $userId;
                """;
            command.Parameters.AddWithValue("$userId", userId);
            command.Parameters.AddWithValue("$queueName", Topology.QueueName(userId));
            command.Parameters.AddWithValue("$routingKey", Topology.RoutingKey(userId));
            command.Parameters.AddWithValue("$ttlMs", ttlMs);
            command.Parameters.AddWithValue("$ordering", ordering == QueueOrdering.Strict ? "strict" : "default");
            command.Parameters.AddWithValue("$createdAt", createdAt.ToUnixTimeMilliseconds());
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await reader.ReadAsync(ct).ConfigureAwait(false);
            return Read(reader);
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<QueueRecord>> ListAsync(ConsumerStatus? status, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = status is null
            ? $"SELECT {Columns} FROM queues ORDER BY user_id"
            : $"SELECT {Columns} FROM queues WHERE status = $status ORDER BY user_id";
        if (status is { } wanted)
        {
            command.Parameters.AddWithValue("$status", StatusText(wanted));
        }

        var records = new List<QueueRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            records.Add(Read(reader));
        }

        return records;
    }

    public Task<bool> SetStatusAsync(string userId, ConsumerStatus status, CancellationToken cancellationToken)
    {
        return _database.WriteAsync(async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE queues SET status = $status WHERE user_id = $userId";
            command.Parameters.AddWithValue("$status", StatusText(status));
            command.Parameters.AddWithValue("$userId", userId);
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false) > 0;
        }, cancellationToken);
    }

    public Task TouchAsync(string userId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        return _database.WriteAsync(async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE queues SET last_activity_at = max(coalesce(last_activity_at, 0), $at) WHERE user_id = $userId";
            command.Parameters.AddWithValue("$at", at.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$userId", userId);
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<QueueRecord>> ListIdleAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {Columns} FROM queues
            WHERE status = 'running' AND coalesce(last_activity_at, created_at) + ttl_ms < $now
            ORDER BY coalesce(last_activity_at, created_at) LIMIT $limit
            """;
        command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$limit", limit);
        var records = new List<QueueRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            records.Add(Read(reader));
        }

        return records;
    }

    public Task<bool> RemoveIfIdleAsync(string userId, DateTimeOffset? lastActivityAt, CancellationToken cancellationToken)
    {
        return _database.WriteAsync(async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = """
                DELETE FROM queues
                WHERE user_id = $userId AND status = 'running' AND coalesce(last_activity_at, 0) <= $seen
                """;
            command.Parameters.AddWithValue("$userId", userId);
            command.Parameters.AddWithValue("$seen", lastActivityAt?.ToUnixTimeMilliseconds() ?? 0);
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false) > 0;
        }, cancellationToken);
    }

    public Task<int> SetAllStatusAsync(ConsumerStatus status, CancellationToken cancellationToken)
    {
        return _database.WriteAsync(async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE queues SET status = $status WHERE status <> $status";
            command.Parameters.AddWithValue("$status", StatusText(status));
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    public async Task<QueuePage> QueryAsync(QueueQuery query, CancellationToken cancellationToken)
    {
        var where = new List<string>();
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        if (!string.IsNullOrEmpty(query.Search))
        {
            // A substring match; the search text's own wildcards are taken literally.
            where.Add(@"user_id LIKE $search ESCAPE '\'");
            var escaped = query.Search.Replace(@"\", @"\\", StringComparison.Ordinal)
                .Replace("%", @"\%", StringComparison.Ordinal)
                .Replace("_", @"\_", StringComparison.Ordinal);
            command.Parameters.AddWithValue("$search", "%" + escaped + "%");
        }

        if (query.Status is { } status)
        {
            where.Add("status = $status");
            command.Parameters.AddWithValue("$status", StatusText(status));
        }

        var filter = where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", where);
        var direction = query.Descending ? "DESC" : "ASC";
        var order = query.Sort switch
        {
            QueueSortField.Status => $"status {direction}, user_id",
            QueueSortField.CreatedAt => $"created_at {direction}, user_id",
            QueueSortField.LastActivity => $"last_activity_at {direction}, user_id",
            QueueSortField.Published => $"published {direction}, user_id",
            QueueSortField.Delivered => $"delivered {direction}, user_id",
            QueueSortField.Failed => $"failed {direction}, user_id",
            _ => $"user_id {direction}",
        };
        command.CommandText = $"""
            SELECT count(*) FROM queues {filter};
            SELECT {Columns} FROM queues {filter} ORDER BY {order} LIMIT $limit OFFSET $offset;
            """;
        var pageSize = Math.Max(1, query.PageSize);
        command.Parameters.AddWithValue("$limit", pageSize);
        command.Parameters.AddWithValue("$offset", (long)(Math.Max(1, query.Page) - 1) * pageSize);

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var total = reader.GetInt32(0);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var records = new List<QueueRecord>(Math.Min(pageSize, 1024));
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            records.Add(Read(reader));
        }

        return new QueuePage(records, total);
    }

    public async Task<RegistryTotals> TotalsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT count(*), coalesce(sum(status = 'running'), 0), coalesce(sum(status = 'stopped'), 0),
                   coalesce(sum(published), 0), coalesce(sum(delivered), 0), coalesce(sum(failed), 0)
            FROM queues
            """;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new RegistryTotals(reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2),
            reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5));
    }

    public Task AddCountsAsync(IReadOnlyCollection<CounterDelta> deltas, DateTimeOffset at, CancellationToken cancellationToken)
    {
        if (deltas.Count == 0)
        {
            return Task.CompletedTask;
        }

        // One write: every delta is committed together, or none is.
        return _database.WriteAsync(async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = """
                UPDATE queues
                SET published = published + $published, delivered = delivered + $delivered, failed = failed + $failed,
                    retried = retried + $retried, dead_lettered = dead_lettered + $deadLettered, last_activity_at = $at
                WHERE user_id = $userId
                """;
            var userId = command.Parameters.Add("$userId", SqliteType.Text);
            var published = command.Parameters.Add("$published", SqliteType.Integer);
            var delivered = command.Parameters.Add("$delivered", SqliteType.Integer);
            var failed = command.Parameters.Add("$failed", SqliteType.Integer);
            var retried = command.Parameters.Add("$retried", SqliteType.Integer);
            var deadLettered = command.Parameters.Add("$deadLettered", SqliteType.Integer);
            command.Parameters.AddWithValue("$at", at.ToUnixTimeMilliseconds());
            foreach (var delta in deltas)
            {
                userId.Value = delta.UserId;
                published.Value = delta.Counts.Published;
                delivered.Value = delta.Counts.Delivered;
                failed.Value = delta.Counts.Failed;
                retried.Value = delta.Counts.Retried;
                deadLettered.Value = delta.Counts.DeadLettered;
                await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
        }, cancellationToken);
    }


    private static QueueRecord Read(DbDataReader reader) => new(
        UserId: reader.GetString(0),
        QueueName: reader.GetString(1),
        RoutingKey: reader.GetString(2),
        TtlMs: reader.GetInt64(3),
        Ordering: reader.GetString(4) == "strict" ? QueueOrdering.Strict : QueueOrdering.Default,
        CreatedAt: DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)),
        Status: reader.GetString(6) == "stopped" ? ConsumerStatus.Stopped : ConsumerStatus.Running,
        Counts: new QueueCounts(
            Published: reader.GetInt64(7),
            Delivered: reader.GetInt64(8),
            Failed: reader.GetInt64(9),
            Retried: reader.GetInt64(10),
            DeadLettered: reader.GetInt64(11)),
        LastActivityAt: reader.IsDBNull(12) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(12)));

    private static string StatusText(ConsumerStatus status) => status == ConsumerStatus.Stopped ? "stopped" : "running";
}
