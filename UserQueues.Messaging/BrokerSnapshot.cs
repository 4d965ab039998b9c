using System.Collections.Frozen;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UserQueues.Messaging;

/// <summary>The broker's management HTTP API (section <c>Messaging:Management</c>), read in the background only.</summary>
public sealed class BrokerManagementOptions
{
    public const string SectionName = "Messaging:Management";

    /// <summary>
    /// Base address of the management API, e.g. <c>http://localhost:15672</c>. The AppHost sets it;
    /// when empty it is the AMQP host on port 15672. Credentials are the AMQP connection's.
    /// </summary>
    public string? Url { get; set; }

    /// <summary>
    /// Shortest pause between two snapshots (each one is a single column-filtered call for every
    /// queue). The pause grows with the call's duration (<see cref="SnapshotPacing"/>), and while
    /// nobody reads the snapshot it is at least <see cref="IdleSnapshotIntervalSeconds"/>.
    /// </summary>
    [Range(1, 3600)]
    public int SnapshotIntervalSeconds { get; set; } = 5;

    /// <summary>
    /// Pause between two snapshots while no admin request has read one for two minutes: the
    /// picture stays there for a broker outage, without the management API listing every queue
    /// every few seconds for nobody. The first read after that wakes the refresh at once.
    /// </summary>
    [Range(1, 3600)]
    public int IdleSnapshotIntervalSeconds { get; set; } = 60;

    /// <summary>A snapshot call taking longer than this is abandoned (at 10,000 queues RabbitMQ 3.10 takes 7-10 s).</summary>
    [Range(1, 600)]
    public int TimeoutSeconds { get; set; } = 60;
}

/// <summary>What the management API said about one user queue at <see cref="BrokerSnapshot.TakenAt"/>.</summary>
public readonly record struct SnapshotQueueFigures(long Ready, long Unacked, long Consumers, double PublishRate, double DeliverRate);

/// <summary>An immutable picture of every user queue on the broker; <see cref="Empty"/> until the first call succeeds.</summary>
public sealed record BrokerSnapshot(
    DateTimeOffset? TakenAt,
    TimeSpan Duration,
    FrozenDictionary<string, SnapshotQueueFigures> Queues,
    string? Error)
{
    public static BrokerSnapshot Empty { get; } = new(null, TimeSpan.Zero, FrozenDictionary<string, SnapshotQueueFigures>.Empty, null);
}

/// <summary>
/// Keeps <see cref="Current"/> fresh: one <c>GET /api/queues/{vhost}?columns=...</c> per cycle.
/// No request ever waits on the management API (it takes seconds at 10,000 queues): readers get
/// the last picture and its age.
/// </summary>
public sealed partial class BrokerSnapshotService : BackgroundService
{
    /// <summary>Only what the admin page shows: fewer columns make the broker's answer much cheaper.</summary>
    private const string Columns =
        "name,messages_ready,messages_unacknowledged,consumers,message_stats.publish_details.rate,message_stats.deliver_get_details.rate";

    private readonly BrokerManagementOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<BrokerSnapshotService> _logger;
    private readonly HttpClient _http;
    private readonly string _queuesPath;
    /// <summary>No read for this long: the snapshot is refreshed every <see cref="BrokerManagementOptions.IdleSnapshotIntervalSeconds"/>.</summary>
    private static readonly TimeSpan IdleAfter = TimeSpan.FromMinutes(2);

    // No maximum: a surplus release only makes one refresh come early.
    private readonly SemaphoreSlim _demand = new(0);
    private volatile BrokerSnapshot _current = BrokerSnapshot.Empty;
    private long _lastReadAt;
    private int _idle;

    public BrokerSnapshotService(IConfiguration configuration, IOptions<BrokerManagementOptions> options, TimeProvider time, ILogger<BrokerSnapshotService> logger)
    {
        _options = options.Value;
        _time = time;
        _logger = logger;
        var amqp = new Uri(configuration.GetConnectionString(MessagingExtensions.BrokerResourceName)!);
        var management = _options.Url is { Length: > 0 } url ? new Uri(url) : new UriBuilder("http", amqp.Host, 15672).Uri;
        var credentials = management.UserInfo is { Length: > 0 } own ? own : amqp.UserInfo is { Length: > 0 } fromAmqp ? fromAmqp : "guest:guest";
        // Its own client, not the factory's: the standard resilience handler's 10 s attempt timeout
        // and retries are wrong for one slow call that simply runs again next cycle.
        _http = new HttpClient { BaseAddress = new UriBuilder(management) { UserName = "", Password = "" }.Uri, Timeout = TimeSpan.FromSeconds(_options.TimeoutSeconds) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(credentials))));
        var vhost = amqp.AbsolutePath.Trim('/') is { Length: > 0 } path ? Uri.UnescapeDataString(path) : "/";
        _queuesPath = $"api/queues/{Uri.EscapeDataString(vhost)}?columns={Columns}";
    }

    /// <summary>The last picture; reading it counts as demand (an idle refresh loop wakes up).</summary>
    public BrokerSnapshot Current
    {
        get
        {
            Volatile.Write(ref _lastReadAt, _time.GetTimestamp());
            if (Interlocked.Exchange(ref _idle, 0) == 1)
            {
                _demand.Release();
            }

            return _current;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(_options.SnapshotIntervalSeconds);
        var idleInterval = TimeSpan.FromSeconds(_options.IdleSnapshotIntervalSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            var started = _time.GetTimestamp();
            await RefreshAsync(stoppingToken).ConfigureAwait(false);
            try
            {
                // At 10,000 queues one call keeps the broker's management plugin busy for seconds:
                // never back to back, and rarely while nobody looks.
                await Task.Delay(SnapshotPacing.PauseAfter(interval, _time.GetElapsedTime(started)), _time, stoppingToken).ConfigureAwait(false);
                if (IsIdle())
                {
                    Volatile.Write(ref _idle, 1);
                    var remaining = idleInterval - _time.GetElapsedTime(started);
                    // Checked again once the flag is up: a read in between did not see it.
                    if (IsIdle() && remaining > TimeSpan.Zero)
                    {
                        await _demand.WaitAsync(remaining, stoppingToken).ConfigureAwait(false);
                    }

                    Volatile.Write(ref _idle, 0);
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private bool IsIdle() => _time.GetElapsedTime(Volatile.Read(ref _lastReadAt)) >= IdleAfter;

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await using var stream = await _http.GetStreamAsync(new Uri(_queuesPath, UriKind.Relative), cancellationToken).ConfigureAwait(false);
            using var document = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
            var queues = new Dictionary<string, SnapshotQueueFigures>(StringComparer.Ordinal);
            foreach (var queue in document.RootElement.EnumerateArray())
            {
                if (queue.TryGetProperty("name", out var name) && Topology.UserIdOfQueue(name.GetString() ?? "") is { } userId)
                {
                    queues[userId] = new SnapshotQueueFigures(
                        Long(queue, "messages_ready"), Long(queue, "messages_unacknowledged"), Long(queue, "consumers"),
                        Rate(queue, "publish_details"), Rate(queue, "deliver_get_details"));
                }
            }

            _current = new BrokerSnapshot(_time.GetUtcNow(), Stopwatch.GetElapsedTime(started), queues.ToFrozenDictionary(StringComparer.Ordinal), null);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            // Keep the last good figures; say why they are getting old.
            _current = _current with { Error = e.Message };
            LogSnapshotFailed(_logger, e.Message);
        }
    }

    private static long Long(JsonElement queue, string property) =>
        queue.TryGetProperty(property, out var value) && value.TryGetInt64(out var number) ? number : 0;

    private static double Rate(JsonElement queue, string details) =>
        queue.TryGetProperty("message_stats", out var stats) && stats.ValueKind == JsonValueKind.Object
        && stats.TryGetProperty(details, out var detail) && detail.TryGetProperty("rate", out var rate) && rate.TryGetDouble(out var value)
            ? value
            : 0;

    public override void Dispose()
    {
        _http.Dispose();
        _demand.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker snapshot from the management API failed: {Reason}")]
    private static partial void LogSnapshotFailed(ILogger logger, string reason);
}
