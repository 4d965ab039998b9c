using System.Globalization;

namespace UserQueues.Bench;

/// <summary>What one bench run does; every figure is a parameter so a smoke run and a full run share the code.</summary>
public sealed record BenchSettings
{
    /// <summary>The running system's API.</summary>
    public Uri Api { get; init; } = new("http://localhost:3001");

    /// <summary>The broker the system uses, for the baseline and for checking subscriptions.</summary>
    public Uri? Amqp { get; init; }

    /// <summary>Start the AppHost in the bench process (<see cref="HostedSystem"/>) instead of using a running system.</summary>
    public bool Host { get; init; }

    /// <summary>Users of the small end-to-end scenario.</summary>
    public int Users { get; init; } = 100;

    /// <summary>Messages of the small end-to-end scenario (spread evenly over <see cref="Users"/>).</summary>
    public int Messages { get; init; } = 10_000;

    /// <summary>Queues created in the scale scenario; its end-to-end run goes to as many users.</summary>
    public int Queues { get; init; } = 10_000;

    /// <summary>Messages of the end-to-end run at <see cref="Queues"/> users.</summary>
    public int ScaleMessages { get; init; } = 20_000;

    /// <summary>Raw declares on one channel: a sample, the rate is what counts (≈ 90/s here).</summary>
    public int SingleChannelDeclares { get; init; } = 1_000;

    /// <summary>HTTP requests (and raw publishes) in flight at once.</summary>
    public int Concurrency { get; init; } = 64;

    /// <summary>Channels of the raw baseline's publishers; consumers and declares use <see cref="BrokerChannels"/>.</summary>
    public int PublishChannels { get; init; } = 16;

    /// <summary>Channels the raw baseline declares and consumes over (the worker's default is 8).</summary>
    public int BrokerChannels { get; init; } = 8;

    public int PayloadBytes { get; init; } = 256;

    /// <summary>Delays probed by the delay-accuracy scenario, and messages per delay.</summary>
    public IReadOnlyList<int> DelaySeconds { get; init; } = [1, 10];

    public int MessagesPerDelay { get; init; } = 20;

    /// <summary>
    /// Messages of the light-load latency run of the e2e group: sent open loop at
    /// <see cref="LightLoadFraction"/> of the throughput the full-load run measured (0: not run).
    /// </summary>
    public int LightLoadMessages { get; init; } = 1_000;

    /// <summary>
    /// Messages sent, unmeasured, through the raw broker and then through the system (over 100
    /// users each) before the first group: the broker node, the services and the bench's own
    /// clients start the measured runs warm (0: no warm-up).
    /// </summary>
    public int WarmupMessages { get; init; } = 2_000;

    /// <summary>Issue 7: p99 send → callback at 10 % of peak load.</summary>
    public const double LightLoadFraction = 0.1;

    /// <summary>The AppHost's DataDirectory: picks this system's api and worker processes for RSS.</summary>
    public string? DataDirectory { get; init; }

    public string AdminApiKey { get; init; } = "change-me";

    /// <summary>Scenario groups to run: e2e, delay, scale, admin.</summary>
    public IReadOnlySet<string> Groups { get; init; } = new HashSet<string>(AllGroups, StringComparer.OrdinalIgnoreCase);

    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public string? ResultsDirectory { get; init; } = "bench/results";

    /// <summary>Prefix of every user id and queue of this run, so runs never mix.</summary>
    public string RunId { get; init; } = "b" + DateTime.UtcNow.ToString("MMddHHmmss", CultureInfo.InvariantCulture);

    public static readonly string[] AllGroups = ["e2e", "delay", "scale", "admin"];

    public bool Runs(string group) => Groups.Contains(group);

    public const string Usage = """
        UserQueues.Bench: scenarios against a running UserQueues, beside the raw RabbitMQ baseline.

          --api URL              the system's API (default http://localhost:3001)
          --amqp URL             the broker the system uses (amqp://guest:guest@localhost:PORT), required
          --host                 instead: start the AppHost in this process (local broker, free ports,
                                 --data-directory or a new temp folder); also times worker start
          --users N              users of the small end-to-end run (100)
          --messages N           messages of the small end-to-end run (10000)
          --queues N             queues created in the scale run, and its users (10000)
          --scale-messages N     messages of the end-to-end run at --queues users (20000)
          --single-channel-declares N  raw declares timed on one channel (1000)
          --concurrency N        requests / publishes in flight (64)
          --payload-bytes N      payload size (256)
          --delays 1,10,60       delays probed (1,10); --messages-per-delay N (20)
          --light-messages N     e2e latency at 10 % of the measured peak, open loop (1000; 0 = skip)
          --warmup N             messages through the raw broker and the system before measuring (2000; 0 = none)
          --data-directory DIR   the AppHost's DataDirectory: finds its api/worker processes for RSS
          --admin-key KEY        admin API key (change-me)
          --only e2e,delay,scale,admin   scenario groups (all)
          --drain-timeout S      seconds to wait for callbacks (300)
          --results DIR          where <date>.json goes (bench/results); "-" for none
        """;

    public static BenchSettings Parse(string[] args)
    {
        var settings = new BenchSettings();
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (name == "--host")
            {
                settings = settings with { Host = true };
                continue;
            }

            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            int NextInt() => int.TryParse(Next(), CultureInfo.InvariantCulture, out var n) && n >= 0 ? n : throw new ArgumentException($"{name} needs a whole number ≥ 0.");
            settings = name switch
            {
                "--api" => settings with { Api = new Uri(Next()) },
                "--amqp" => settings with { Amqp = new Uri(Next()) },
                "--users" => settings with { Users = Math.Max(1, NextInt()) },
                "--messages" => settings with { Messages = NextInt() },
                "--queues" => settings with { Queues = Math.Max(1, NextInt()) },
                "--scale-messages" => settings with { ScaleMessages = NextInt() },
                "--single-channel-declares" => settings with { SingleChannelDeclares = NextInt() },
                "--concurrency" => settings with { Concurrency = Math.Max(1, NextInt()) },
                "--payload-bytes" => settings with { PayloadBytes = NextInt() },
                "--delays" => settings with { DelaySeconds = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture))] },
                "--messages-per-delay" => settings with { MessagesPerDelay = Math.Max(1, NextInt()) },
                "--light-messages" => settings with { LightLoadMessages = NextInt() },
                "--warmup" => settings with { WarmupMessages = NextInt() },
                "--data-directory" => settings with { DataDirectory = Path.GetFullPath(Next()) },
                "--admin-key" => settings with { AdminApiKey = Next() },
                "--only" => settings with { Groups = new HashSet<string>(Next().Split(',', StringSplitOptions.RemoveEmptyEntries), StringComparer.OrdinalIgnoreCase) },
                "--drain-timeout" => settings with { DrainTimeout = TimeSpan.FromSeconds(NextInt()) },
                "--results" => settings with { ResultsDirectory = Next() is "-" ? null : args[i] },
                _ => throw new ArgumentException($"Unknown option {name}."),
            };
        }

        return settings.Amqp is null && !settings.Host
            ? throw new ArgumentException("--amqp is required: the broker the system uses (the baseline runs on it). With the AppHost's local broker: amqp://guest:guest@localhost:<listeners.tcp.default of DataDirectory/rabbitmq/*/rabbitmq.conf>.")
            : settings;
    }
}
