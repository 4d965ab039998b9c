using Microsoft.Data.Sqlite;

namespace UserQueues.Messaging.Registry;

/// <summary>The registry's SQLite file: one place that says how every table of it is opened.</summary>
internal sealed class RegistryDatabase
{
    private readonly string _connectionString;

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
    }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }
}
