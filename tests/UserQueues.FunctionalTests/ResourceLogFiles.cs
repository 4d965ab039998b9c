using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace UserQueues.FunctionalTests;

/// <summary>
/// Writes the AppHost's logs to one file per resource (categories <c>*.Resources.{name}</c>) and
/// the rest to <c>apphost.log</c>, so a failed CI run can be read afterwards.
/// </summary>
public sealed class ResourceLogFiles : ILoggerProvider
{
    private const string ResourcesMarker = ".Resources.";
    private readonly string _directory;
    private readonly ConcurrentDictionary<string, StreamWriter> _files = new();

    public ResourceLogFiles(string directory)
    {
        _directory = directory;
        Directory.CreateDirectory(directory);
    }

    public ILogger CreateLogger(string categoryName)
    {
        var marker = categoryName.IndexOf(ResourcesMarker, StringComparison.Ordinal);
        var file = marker >= 0 ? categoryName[(marker + ResourcesMarker.Length)..] : "apphost";
        return new FileLogger(_files.GetOrAdd(file, name =>
            new StreamWriter(Path.Combine(_directory, name + ".log"), append: false) { AutoFlush = true }), file == "apphost" ? categoryName : null);
    }

    public void Dispose()
    {
        foreach (var file in _files.Values)
        {
            file.Dispose();
        }
    }

    private sealed class FileLogger(StreamWriter file, string? category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = category is null ? formatter(state, exception) : $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)} {exception}";
            lock (file)
            {
                file.WriteLine(line);
            }
        }
    }
}
