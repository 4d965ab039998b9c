using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using UserQueues.Messaging.Signing;

namespace UserQueues.Messaging.Registry;

/// <summary>
/// Signing secrets in their own table of the registry's SQLite file. The table is created on first
/// use, so the registry's schema code stays as it is.
/// </summary>
// REVIEW: secrets are stored as text, readable by whoever can read the registry file (as the
// broker's messages are); encrypting them at rest (ASP.NET Core Data Protection) is a later step.
public sealed class SqliteWebhookSecretStore : IWebhookSecretStore
{
    private readonly RegistryDatabase _database;
    private volatile bool _schemaReady;

    public SqliteWebhookSecretStore(IOptions<RegistryOptions> options)
    {
        _database = new RegistryDatabase(options.Value);
    }

    public async Task<UserSigningSecrets?> FindAsync(string userId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT current_secret, previous_secret FROM signing_secrets WHERE user_id = $userId";
        command.Parameters.AddWithValue("$userId", userId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var current = Parse(reader.GetString(0));
        var previous = reader.IsDBNull(1) ? null : Parse(reader.GetString(1));
        return new UserSigningSecrets(current, previous);
    }

    public Task<bool> AddIfMissingAsync(string userId, WebhookSecret secret, DateTimeOffset at, CancellationToken cancellationToken)
    {
        return WriteAsync(async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT INTO signing_secrets (user_id, current_secret, created_at) VALUES ($userId, $secret, $at)
                ON CONFLICT (user_id) DO NOTHING
                """;
            command.Parameters.AddWithValue("$userId", userId);
            command.Parameters.AddWithValue("$secret", secret.Reveal());
            command.Parameters.AddWithValue("$at", at.ToUnixTimeMilliseconds());
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false) > 0;
        }, cancellationToken);
    }

    public Task<bool> RotateAsync(string userId, WebhookSecret newSecret, DateTimeOffset at, CancellationToken cancellationToken)
    {
        return WriteAsync(async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = """
                UPDATE signing_secrets SET previous_secret = current_secret, current_secret = $secret, rotated_at = $at
                WHERE user_id = $userId
                """;
            command.Parameters.AddWithValue("$userId", userId);
            command.Parameters.AddWithValue("$secret", newSecret.Reveal());
            command.Parameters.AddWithValue("$at", at.ToUnixTimeMilliseconds());
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false) > 0;
        }, cancellationToken);
    }

    public Task<bool> EndRotationAsync(string userId, CancellationToken cancellationToken)
    {
        return WriteAsync(async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE signing_secrets SET previous_secret = NULL WHERE user_id = $userId";
            command.Parameters.AddWithValue("$userId", userId);
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false) > 0;
        }, cancellationToken);
    }

    private static WebhookSecret Parse(string text) =>
        WebhookSecret.TryParse(text, out var problem) ?? throw new InvalidDataException($"A stored signing secret is unreadable: {problem}.");

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        if (!_schemaReady)
        {
            await EnsureSchemaAsync(connection, cancellationToken).ConfigureAwait(false); // autocommit: done
            _schemaReady = true;
        }

        return connection;
    }

    /// <summary>A write of the registry's writer, the table created first if this process has not yet.</summary>
    private async Task<T> WriteAsync<T>(Func<SqliteConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        if (!_schemaReady)
        {
            // A write of its own: ready only once committed, whatever becomes of the work.
            await _database.WriteAsync(EnsureSchemaAsync, cancellationToken).ConfigureAwait(false);
            _schemaReady = true;
        }

        return await _database.WriteAsync(work, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates the table once per process; running it twice at once is harmless (IF NOT EXISTS).</summary>
    private static Task EnsureSchemaAsync(SqliteConnection connection, CancellationToken cancellationToken) =>
        RegistryDatabase.ExecuteAsync(connection, """
            CREATE TABLE IF NOT EXISTS signing_secrets (
                user_id          TEXT    NOT NULL PRIMARY KEY,
                current_secret   TEXT    NOT NULL,
                previous_secret  TEXT    NULL,
                created_at       INTEGER NOT NULL,
                rotated_at       INTEGER NULL
            );
            """, cancellationToken);
}
