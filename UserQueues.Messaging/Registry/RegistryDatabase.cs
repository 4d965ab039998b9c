using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace UserQueues.Messaging.Registry;

/// <summary>The registry's SQLite file: one place that says how every table of it is opened and written.</summary>
internal sealed class RegistryDatabase
{
    /// <summary>One writer per database file in this process, whatever number of stores use it.</summary>
    private static readonly ConcurrentDictionary<string, RegistryWriter> s_writers = new(StringComparer.Ordinal);

    private readonly string _connectionString;
    private readonly RegistryWriter _writer;

    public RegistryDatabase(RegistryOptions options)
    {
        var path = Path.GetFullPath(options.Path);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            // Microsoft.Data.Sqlite retries a busy database until the command timeout.
            DefaultTimeout = 30,
        }.ToString();
        var connectionString = _connectionString;
        _writer = s_writers.GetOrAdd(path, _ => new RegistryWriter(ct => OpenAsync(connectionString, ct)));
    }

    /// <summary>A connection for reading (WAL: readers never wait for a writer).</summary>
    public Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) => OpenAsync(_connectionString, cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> (SQL on the given connection, no transaction of its own) in a
    /// write transaction, committed before the returned task completes. Concurrent writes of this
    /// process share one transaction (<see cref="RegistryWriter"/>); one that fails is rolled back
    /// alone and throws to its caller.
    /// </summary>
    public Task<T> WriteAsync<T>(Func<SqliteConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        _writer.WriteAsync(work, cancellationToken);

    /// <summary>As <see cref="WriteAsync{T}"/>, for a write with no result.</summary>
    public Task WriteAsync(Func<SqliteConnection, CancellationToken, Task> work, CancellationToken cancellationToken) =>
        _writer.WriteAsync(async (connection, ct) =>
        {
            await work(connection, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <summary>Runs one SQL text without parameters (schema, transaction control).</summary>
    public static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<SqliteConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }
}
