using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace UserQueues.Messaging.Registry;

/// <summary>The audit trail as a table of the registry's SQLite file (append-only: nothing here updates or deletes).</summary>
public sealed class SqliteAuditLog : IAuditLog
{
    private readonly RegistryDatabase _database;

    public SqliteAuditLog(IOptions<RegistryOptions> options)
    {
        _database = new RegistryDatabase(options.Value);
    }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await RegistryDatabase.ExecuteAsync(connection, """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS audit_log (
                id     INTEGER PRIMARY KEY AUTOINCREMENT,
                at     INTEGER NOT NULL,
                actor  TEXT    NOT NULL,
                action TEXT    NOT NULL,
                target TEXT    NULL,
                detail TEXT    NULL
            );
            """, cancellationToken).ConfigureAwait(false);
    }

    public Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken)
    {
        return _database.WriteAsync(async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($at, $actor, $action, $target, $detail)";
            command.Parameters.AddWithValue("$at", entry.At.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$actor", entry.Actor);
            command.Parameters.AddWithValue("$action", entry.Action);
            command.Parameters.AddWithValue("$target", (object?)entry.Target ?? DBNull.Value);
            command.Parameters.AddWithValue("$detail", (object?)entry.Detail ?? DBNull.Value);
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    public async Task<AuditPage> ListAsync(int page, int pageSize, CancellationToken cancellationToken)
    {
        pageSize = Math.Max(1, pageSize);
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT count(*) FROM audit_log;
            SELECT id, at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT $limit OFFSET $offset;
            """;
        command.Parameters.AddWithValue("$limit", pageSize);
        command.Parameters.AddWithValue("$offset", (long)(Math.Max(1, page) - 1) * pageSize);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var total = reader.GetInt32(0);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var entries = new List<AuditEntry>(Math.Min(pageSize, 1024));
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            entries.Add(new AuditEntry(
                At: DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)),
                Actor: reader.GetString(2),
                Action: reader.GetString(3),
                Target: reader.IsDBNull(4) ? null : reader.GetString(4),
                Detail: reader.IsDBNull(5) ? null : reader.GetString(5),
                Id: reader.GetInt64(0)));
        }

        return new AuditPage(entries, total);
    }
}
