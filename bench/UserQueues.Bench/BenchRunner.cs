using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using RabbitMQ.Client;
using UserQueues.Bench.Infrastructure;
using UserQueues.Bench.Scenarios;

namespace UserQueues.Bench;

/// <summary>Stops and starts the system's worker, when whoever runs the bench can (an AppHost in the same process).</summary>
/// <param name="LastStartReport">The worker's own report of its last start, from its log (null when it wrote none).</param>
public sealed record WorkerControl(Func<CancellationToken, Task> StopAsync, Func<CancellationToken, Task> StartAsync, Func<string?> LastStartReport);

/// <summary>
/// Runs the scenario groups of <see cref="BenchSettings"/> against a running system, each beside
/// its raw-broker baseline measured in the same run, and gathers the figures. With a
/// <see cref="WorkerControl"/> the scale group also times worker start → all queues subscribed.
/// </summary>
public sealed class BenchRunner(BenchSettings settings, IBenchProgress progress, WorkerControl? worker = null)
{
    private readonly List<BenchResult> _results = [];
    private readonly List<DeliveryCheck> _deliveries = [];

    public async Task<BenchReport> RunAsync(CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var loadAtStart = ProcessMemory.LoadAverage();
        await using var sink = await BenchCallbackSink.StartAsync();
        await using var raw = await RawBroker.ConnectAsync(settings.Amqp!, cancellationToken);
        using var system = new SystemClient(settings.Api, settings.Concurrency);
        var probeFactory = new ConnectionFactory { Uri = settings.Amqp!, ClientProvidedName = "userqueues-bench-probe" };
        await using var probe = await probeFactory.CreateConnectionAsync(cancellationToken);

        if (settings.WarmupMessages > 0)
        {
            await WarmUpAsync(sink, raw, system, probe, cancellationToken);
        }

        if (settings.Runs("e2e"))
        {
            await EndToEndAsync("e2e", settings.Users, settings.Messages, sink, raw, system, probe, createTimed: false, cancellationToken);
        }

        if (settings.Runs("delay"))
        {
            await DelayAsync(sink, system, probe, cancellationToken);
        }

        if (settings.Runs("scale"))
        {
            await EndToEndAsync("scale", settings.Queues, settings.ScaleMessages, sink, raw, system, probe, createTimed: true, cancellationToken);
        }

        if (settings.Runs("admin"))
        {
            await AdminAsync(system, cancellationToken);
        }

        if (sink.Unknown > 0)
        {
            _results.Add(BenchResult.Missing("sink", "unreadable callbacks", "warning", $"{sink.Unknown} callbacks named no scenario of this run or had no bench payload"));
        }

        var machine = new MachineInfo(Environment.ProcessorCount, ProcessMemory.MemoryTotalMb(), raw.ServerVersion, loadAtStart, ProcessMemory.LoadAverage());
        return new BenchReport(started, DateTimeOffset.UtcNow, machine, BenchSettingsSnapshot.Of(settings), _results, _deliveries);
    }

    /// <summary>
    /// <see cref="BenchSettings.WarmupMessages"/> through the raw broker, then through the system,
    /// 100 queues each, nothing recorded. Without it the first group ran on a broker node started
    /// moments before, and the raw end-to-end figure of identical runs moved between 1,400 and 2,400
    /// msg/s (how much the warm-up steadies it: bench/README.md).
    /// </summary>
    private async Task WarmUpAsync(BenchCallbackSink sink, RawBroker raw, SystemClient system, IConnection probe, CancellationToken cancellationToken)
    {
        const int Users = 100;
        var messages = settings.WarmupMessages;
        var prefix = $"{settings.RunId}-warmup";
        using var step = progress.Begin($"warm-up: {messages:N0} raw, then {messages:N0} send-message", 2);
        var rawQueues = Enumerable.Range(0, Users).Select(i => RawBroker.QueueName(prefix, i)).ToArray();
        await raw.DeclareAsync(rawQueues, settings.BrokerChannels, NoProgress.Instance.Begin("", 0), cancellationToken);
        var (_, consumers) = await raw.ConsumeAsync(rawQueues, settings.BrokerChannels, NoProgress.Instance.Begin("", 0), cancellationToken);
        await using (consumers)
        {
            await PublishRawAsync(raw, consumers, prefix + "-raw", rawQueues, messages, NoProgress.Instance.Begin("", 0), cancellationToken);
        }

        await raw.DeleteAsync(rawQueues, settings.BrokerChannels, cancellationToken);
        step.Increment();

        var userIds = Enumerable.Range(0, Users).Select(i => $"{prefix}-u{i}").ToArray();
        await system.CreateQueuesAsync(userIds, settings.Concurrency, NoProgress.Instance.Begin("", 0), cancellationToken);
        await SystemClient.WaitSubscribedAsync(probe, userIds, settings.DrainTimeout, NoProgress.Instance.Begin("", 0), cancellationToken);
        var tracker = sink.Track(prefix, Users, messages);
        var (_, failed, _) = await system.SendAsync(userIds, messages, settings.Concurrency, settings.PayloadBytes, sink.UrlFor(prefix), NoProgress.Instance.Begin("", 0), cancellationToken);
        tracker.NotExpected(failed.Count);
        await tracker.WaitAsync(settings.DrainTimeout, cancellationToken);
        step.Increment();
    }

    /// <summary>
    /// The baseline over <paramref name="users"/> raw queues, then the system over as many users:
    /// queues created (timed when <paramref name="createTimed"/>), all subscribed, then
    /// <paramref name="messages"/> sent and awaited at the sink.
    /// </summary>
    private async Task EndToEndAsync(string group, int users, int messages, BenchCallbackSink sink, RawBroker raw, SystemClient system, IConnection probe, bool createTimed, CancellationToken cancellationToken)
    {
        var label = $"{users:N0} users";
        var prefix = $"{settings.RunId}-{group}";

        // Baseline: declare (+ one channel sample when timed), consume, publish with confirms, ack.
        var rawQueues = Enumerable.Range(0, users).Select(i => RawBroker.QueueName(prefix, i)).ToArray();
        TimeSpan? rawDeclare = null;
        double? singleChannelRate = null;
        if (createTimed && settings.SingleChannelDeclares > 0)
        {
            var sample = Enumerable.Range(0, settings.SingleChannelDeclares).Select(i => RawBroker.QueueName(prefix + "-1ch", i)).ToArray();
            using var step = progress.Begin($"raw declare+bind, 1 channel ({sample.Length:N0})", sample.Length);
            var elapsed = await raw.DeclareAsync(sample, 1, step, cancellationToken);
            singleChannelRate = sample.Length / elapsed.TotalSeconds;
            await raw.DeleteAsync(sample, settings.BrokerChannels, cancellationToken);
        }

        using (var step = progress.Begin($"raw declare+bind, {settings.BrokerChannels} channels ({users:N0})", users))
        {
            rawDeclare = await raw.DeclareAsync(rawQueues, settings.BrokerChannels, step, cancellationToken);
        }

        TimeSpan rawConsume;
        RawBroker.Consumers consumers;
        using (var step = progress.Begin($"raw basic.consume, {settings.BrokerChannels} channels ({users:N0})", users))
        {
            (rawConsume, consumers) = await raw.ConsumeAsync(rawQueues, settings.BrokerChannels, step, cancellationToken);
        }

        TimeSpan rawPublish, rawEndToEnd;
        int rawFailures;
        DeliveryTracker rawTracker;
        await using (consumers)
        {
            using var step = progress.Begin($"raw publish+confirm → consume+ack ({messages:N0} to {users:N0} queues)", messages);
            var start = Stopwatch.GetTimestamp();
            (rawTracker, rawFailures, rawPublish) = await PublishRawAsync(raw, consumers, prefix + "-raw", rawQueues, messages, step, cancellationToken);
            rawEndToEnd = Stopwatch.GetElapsedTime(start, rawTracker.LastDeliveryTimestamp == 0 ? Stopwatch.GetTimestamp() : rawTracker.LastDeliveryTimestamp);
        }

        // The light-load run uses the raw queues again; otherwise they go before the system runs.
        var rawQueuesReused = group == "e2e" && settings.LightLoadMessages > 0;
        if (!rawQueuesReused)
        {
            using var step = progress.Begin($"raw queues deleted ({users:N0})", 1);
            await raw.DeleteAsync(rawQueues, settings.BrokerChannels, cancellationToken);
        }

        // The system: create the users' queues, wait until the worker consumes every one.
        var userIds = Enumerable.Range(0, users).Select(i => $"{prefix}-u{i}").ToArray();
        // The worker subscribes while the queues are still being created (the API's control command).
        var subscribeStart = Stopwatch.GetTimestamp();
        TimeSpan create;
        int createFailures;
        using (var step = progress.Begin($"POST /create-queue ({users:N0})", users))
        {
            (create, createFailures) = await system.CreateQueuesAsync(userIds, settings.Concurrency, step, cancellationToken);
        }

        bool subscribed;
        long lastPending;
        using (var step = progress.Begin($"worker subscribed to all {users:N0} queues", users))
        {
            (subscribed, lastPending) = await SystemClient.WaitSubscribedAsync(probe, userIds, settings.DrainTimeout, step, cancellationToken);
        }

        var subscribe = Stopwatch.GetElapsedTime(subscribeStart);
        var subscribeLowerBound = Stopwatch.GetElapsedTime(subscribeStart, lastPending);
        var memoryAfterCreate = Memory();

        var tracker = sink.Track(prefix, users, messages);
        TimeSpan send;
        IReadOnlyCollection<(int User, int Sequence)> failed;
        string failedStatuses;
        var sendStart = Stopwatch.GetTimestamp();
        using (var step = progress.Begin($"POST /send-message ({messages:N0} to {users:N0} users)", messages))
        {
            (send, failed, failedStatuses) = await system.SendAsync(userIds, messages, settings.Concurrency, settings.PayloadBytes, sink.UrlFor(prefix), step, cancellationToken);
        }

        var sendFailures = failed.Count;
        tracker.NotExpected(sendFailures);

        using (var step = progress.Begin($"callbacks ({messages:N0})", messages))
        {
            var drain = Task.Run(() => tracker.WaitAsync(settings.DrainTimeout, cancellationToken), cancellationToken);
            double shown = 0;
            while (!drain.IsCompleted)
            {
                step.Increment(tracker.Unique - shown);
                shown = tracker.Unique;
                await Task.WhenAny(drain, Task.Delay(200, cancellationToken));
            }

            step.Increment(tracker.Unique - shown);
        }

        var endToEnd = Stopwatch.GetElapsedTime(sendStart, tracker.LastDeliveryTimestamp == 0 ? Stopwatch.GetTimestamp() : tracker.LastDeliveryTimestamp);
        var failedSet = failed.ToHashSet();
        var lost = SendPlan.All(users, messages).Count(m => !failedSet.Contains(m) && !tracker.WasDelivered(m.User, m.Sequence));
        var failedButDelivered = failed.Count(m => tracker.WasDelivered(m.User, m.Sequence));
        var memoryAfterSend = Memory();

        var restart = createTimed ? await RestartWorkerAsync(probe, userIds, cancellationToken) : null;

        // Figures.
        var scenario = $"{group} ({label})";
        if (createTimed)
        {
            _results.Add(new BenchResult("create queues", $"{users:N0} × POST /create-queue vs raw declare+bind over {settings.BrokerChannels} channels", "s",
                create.TotalSeconds, rawDeclare?.TotalSeconds, Better.Lower, createFailures == 0 ? "ok" : "failures",
                $"{users / create.TotalSeconds:N0}/s vs raw {users / rawDeclare!.Value.TotalSeconds:N0}/s; {createFailures} failed"));
            if (singleChannelRate is { } rate)
            {
                _results.Add(new BenchResult("create queues", "raw declare+bind rate, 1 channel (broker limit)", "/s", rate, users / rawDeclare.Value.TotalSeconds, Better.Higher,
                    Note: $"sample of {settings.SingleChannelDeclares:N0}; baseline column = {settings.BrokerChannels} channels; {users:N0} on 1 channel ≈ {users / rate:N0} s"));
            }

            _results.Add(new BenchResult("subscribe", $"first create-queue → all {users:N0} queues consumed vs raw declare+bind then basic.consume, {settings.BrokerChannels} channels", "s",
                subscribed ? subscribe.TotalSeconds : null, rawDeclare.Value.TotalSeconds + rawConsume.TotalSeconds, Better.Lower, subscribed ? "ok" : "timed out",
                $"all consumed after {subscribeLowerBound.TotalSeconds:0.0} s (a queue last seen unconsumed) and by {subscribe.TotalSeconds:0.0} s (all seen consumed: the figure); "
                + $"the last create-queue answered at {create.TotalSeconds:0.0} s"));
            _results.Add(new BenchResult("subscribe", $"raw basic.consume of {users:N0} queues over {settings.BrokerChannels} channels", "s",
                null, rawConsume.TotalSeconds, Better.Lower, "baseline only", "the broker's own subscribe time"));
            _results.Add(restart is { } r
                ? new BenchResult("subscribe", $"worker start → all {users:N0} queues consumed vs raw basic.consume over {settings.BrokerChannels} channels", "s",
                    r.Subscribed ? r.Elapsed.TotalSeconds : null, rawConsume.TotalSeconds, Better.Lower, r.Subscribed ? "ok" : "timed out",
                    $"from the AppHost's start command, so including the process start; all consumed after {r.LowerBound.TotalSeconds:0.00} s (a queue last seen unconsumed) and by {r.Elapsed.TotalSeconds:0.00} s (the figure)"
                    + (r.Split is { } split ? $"; {split}" : ""))
                : BenchResult.Missing("subscribe", $"worker start → all {users:N0} queues consumed", "not measured",
                    "needs a worker restart: run inside an AppHost (the CI smoke test does); TODO for the console"));
        }

        _results.Add(new BenchResult(scenario, "publish-only: send-message answered (confirmed) vs raw publish+confirm", "msg/s",
            messages / send.TotalSeconds, messages / rawPublish.TotalSeconds, Better.Higher,
            sendFailures == 0 ? "ok" : "failures", $"{settings.Concurrency} in flight; the worker consumes meanwhile, as the raw consumers do"
                + (sendFailures == 0 ? "" : $"; {sendFailures} sends failed ({failedStatuses}), {failedButDelivered} of them delivered all the same")));
        _results.Add(new BenchResult(scenario, "end-to-end: send → callback 2xx vs raw publish → consume+ack", "msg/s",
            tracker.Unique / endToEnd.TotalSeconds, rawTracker.Unique / rawEndToEnd.TotalSeconds, Better.Higher,
            lost == 0 ? "ok" : "incomplete", $"{tracker.Unique:N0}/{messages:N0} delivered, {lost} lost"));
        var latency = tracker.Latency();
        var rawLatency = rawTracker.Latency();
        _results.Add(new BenchResult(scenario, "latency p50 (send → callback) under full load", "ms", latency.P50Ms, rawLatency.P50Ms, Better.Lower));
        _results.Add(new BenchResult(scenario, "latency p99", "ms", latency.P99Ms, rawLatency.P99Ms, Better.Lower));
        _results.Add(new BenchResult(scenario, "latency max", "ms", latency.MaxMs, rawLatency.MaxMs, Better.Lower, Note: tracker.SlowestNote()));
        if (group == "e2e" && settings.LightLoadMessages > 0 && tracker.Unique > 0)
        {
            var rate = BenchSettings.LightLoadFraction * tracker.Unique / endToEnd.TotalSeconds;
            await LightLoadAsync(scenario, prefix, userIds, rawQueues, rate, sink, raw, system, cancellationToken);
        }

        if (rawQueuesReused)
        {
            await raw.DeleteAsync(rawQueues, settings.BrokerChannels, cancellationToken);
        }
        if (createTimed || group == "e2e")
        {
            AddMemory(scenario, $"at {users:N0} queues, before sending", memoryAfterCreate);
            AddMemory(scenario, $"at {users:N0} queues, after {messages:N0} messages", memoryAfterSend);
        }

        // Lost = answered 2xx and never called back; a failed send that arrived anyway is counted as delivered.
        _deliveries.Add(new DeliveryCheck(scenario, messages - sendFailures, tracker.Unique, lost, tracker.Duplicates, tracker.OrderViolations, sendFailures));
        _deliveries.Add(new DeliveryCheck(scenario + " raw baseline", messages - rawFailures, rawTracker.Unique, Math.Max(0, messages - rawFailures - rawTracker.Unique), rawTracker.Duplicates, rawTracker.OrderViolations, rawFailures));
    }

    /// <summary>
    /// Latency well below saturation (issue 7: p99 ≤ 50 ms at 10 % of peak): the system, then the
    /// raw broker, each sent <see cref="BenchSettings.LightLoadMessages"/> open loop at
    /// <paramref name="perSecond"/> (10 % of the system's measured end-to-end throughput).
    /// </summary>
    private async Task LightLoadAsync(string scenario, string prefix, string[] userIds, string[] rawQueues, double perSecond, BenchCallbackSink sink, RawBroker raw, SystemClient system, CancellationToken cancellationToken)
    {
        var messages = settings.LightLoadMessages;
        var users = userIds.Length;
        var tracker = sink.Track(prefix + "-light", users, messages);
        IReadOnlyCollection<(int User, int Sequence)> failed;
        using (var step = progress.Begin($"light load: {messages:N0} send-message at {perSecond:N0}/s", messages))
        {
            (_, failed, _) = await system.SendAsync(userIds, messages, settings.Concurrency, settings.PayloadBytes, sink.UrlFor(prefix + "-light"), step, cancellationToken, perSecond);
            tracker.NotExpected(failed.Count);
            await tracker.WaitAsync(settings.DrainTimeout, cancellationToken);
        }

        RawBroker.Consumers consumers;
        using (var step = progress.Begin($"light load: raw basic.consume ({rawQueues.Length:N0})", rawQueues.Length))
        {
            (_, consumers) = await raw.ConsumeAsync(rawQueues, settings.BrokerChannels, step, cancellationToken);
        }

        DeliveryTracker rawTracker;
        int rawFailures;
        await using (consumers)
        {
            using var step = progress.Begin($"light load: {messages:N0} raw publishes at {perSecond:N0}/s", messages);
            (rawTracker, rawFailures, _) = await PublishRawAsync(raw, consumers, prefix + "-raw-light", rawQueues, messages, step, cancellationToken, perSecond);
        }

        var latency = tracker.Latency();
        var rawLatency = rawTracker.Latency();
        var load = $"at 10 % load ({perSecond:N0} msg/s open loop)";
        var status = tracker.Unique == messages - failed.Count ? "ok" : "incomplete";
        _results.Add(new BenchResult(scenario, $"latency p50 {load}", "ms", latency.P50Ms, rawLatency.P50Ms, Better.Lower, status));
        _results.Add(new BenchResult(scenario, $"latency p99 {load}", "ms", latency.P99Ms, rawLatency.P99Ms, Better.Lower, status, "target ≤ 50 ms (issue 7)"));
        _results.Add(new BenchResult(scenario, $"latency max {load}", "ms", latency.MaxMs, rawLatency.MaxMs, Better.Lower, status));
        _deliveries.Add(new DeliveryCheck(scenario + " light load", messages - failed.Count, tracker.Unique,
            messages - failed.Count - tracker.Unique, tracker.Duplicates, tracker.OrderViolations, failed.Count));
        _deliveries.Add(new DeliveryCheck(scenario + " light load raw baseline", messages - rawFailures, rawTracker.Unique,
            Math.Max(0, messages - rawFailures - rawTracker.Unique), rawTracker.Duplicates, rawTracker.OrderViolations, rawFailures));
    }

    /// <summary>
    /// The baseline's round: <paramref name="messages"/> published to the raw queues (as
    /// <see cref="RawBroker.PublishAsync"/> does), then every delivery to <paramref name="consumers"/>
    /// awaited. Returns their tracker, the failed publishes and the time to the last confirm.
    /// </summary>
    private async Task<(DeliveryTracker Tracker, int Failures, TimeSpan Publish)> PublishRawAsync(RawBroker raw, RawBroker.Consumers consumers, string name,
        string[] rawQueues, int messages, IProgressStep step, CancellationToken cancellationToken, double? perSecond = null)
    {
        var tracker = new DeliveryTracker(name, rawQueues.Length, messages);
        consumers.Tracker = tracker;
        var (publish, failed) = await raw.PublishAsync(rawQueues, messages, settings.Concurrency, settings.PublishChannels, settings.PayloadBytes, step, cancellationToken, perSecond);
        tracker.NotExpected(failed.Count);
        await tracker.WaitAsync(settings.DrainTimeout, cancellationToken);
        return (tracker, failed.Count, publish);
    }

    /// <summary>Stops the worker, waits until its consumers are gone, starts it and times until every queue is consumed again.</summary>
    private async Task<(TimeSpan Elapsed, TimeSpan LowerBound, bool Subscribed, string? Split)?> RestartWorkerAsync(IConnection probe, string[] userIds, CancellationToken cancellationToken)
    {
        if (worker is null)
        {
            return null;
        }

        using (progress.Begin("worker stop", 1))
        {
            await worker.StopAsync(cancellationToken);
            await SystemClient.WaitUnsubscribedAsync(probe, userIds[0], settings.DrainTimeout, cancellationToken);
        }

        var before = worker.LastStartReport();
        using var step = progress.Begin($"worker start → all {userIds.Length:N0} queues subscribed", userIds.Length);
        var commanded = DateTime.Now;
        var start = Stopwatch.GetTimestamp();
        await worker.StartAsync(cancellationToken);
        var (subscribed, lastPending) = await SystemClient.WaitSubscribedAsync(probe, userIds, settings.DrainTimeout, step, cancellationToken);
        var elapsed = Stopwatch.GetElapsedTime(start);
        return (elapsed, Stopwatch.GetElapsedTime(start, lastPending), subscribed, WorkerStartSplit(commanded, before));
    }

    /// <summary>
    /// Where a worker start's time went: the process's start time (/proc), and the worker's own log
    /// line of its first reconciliation (written before the queues are seen consumed).
    /// </summary>
    private string? WorkerStartSplit(DateTime commanded, string? reportBefore)
    {
        var parts = new List<string>();
        if (ProcessMemory.Find("UserQueues.Worker", settings.DataDirectory) is [var process])
        {
            try
            {
                parts.Add($"process started {(Process.GetProcessById(process.Pid).StartTime - commanded).TotalSeconds:0.00} s after the command");
            }
            catch (ArgumentException)
            {
                // Gone meanwhile.
            }
        }

        if (worker!.LastStartReport() is { } report && report != reportBefore
            && Regex.Match(report, @"took ([\d.]+) ms and ended ([\d.]+) ms") is { Success: true } match)
        {
            var took = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) / 1000;
            var ended = double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) / 1000;
            parts.Add($"its start took {ended - took:0.00} s, then its first reconciliation {took:0.00} s (worker's log)");
        }

        return parts.Count == 0 ? null : string.Join("; ", parts);
    }

    private (IReadOnlyList<(int Pid, double RssMb)> Api, IReadOnlyList<(int Pid, double RssMb)> Worker) Memory() =>
        (ProcessMemory.Find("UserQueues.Api", settings.DataDirectory), ProcessMemory.Find("UserQueues.Worker", settings.DataDirectory));

    private void AddMemory(string scenario, string when, (IReadOnlyList<(int Pid, double RssMb)> Api, IReadOnlyList<(int Pid, double RssMb)> Worker) memory)
    {
        foreach (var (name, processes) in new[] { ("api", memory.Api), ("worker", memory.Worker) })
        {
            var note = settings.DataDirectory is null ? "all processes of that name on this machine (give --data-directory)" : $"{processes.Count} process(es)";
            _results.Add(processes.Count == 0
                ? BenchResult.Missing(scenario, $"{name} RSS {when}", "not found", "no such process on this machine: is the system local? (--data-directory)")
                : new BenchResult(scenario, $"{name} RSS {when}", "MB", processes.Sum(p => p.RssMb), Better: Better.Lower, Note: note));
        }
    }

    /// <summary>send-message with delaySeconds: the callback's lateness beyond the delay, or "not supported yet".</summary>
    private async Task DelayAsync(BenchCallbackSink sink, SystemClient system, IConnection probe, CancellationToken cancellationToken)
    {
        var prefix = $"{settings.RunId}-delay";
        var users = settings.MessagesPerDelay;
        var userIds = Enumerable.Range(0, users).Select(i => $"{prefix}-u{i}").ToArray();
        using (var step = progress.Begin($"delay: create {users} queues", users))
        {
            await system.CreateQueuesAsync(userIds, settings.Concurrency, step, cancellationToken);
        }

        await SystemClient.WaitSubscribedAsync(probe, userIds, settings.DrainTimeout, NoProgress.Instance.Begin("", 0), cancellationToken);
        foreach (var delay in settings.DelaySeconds)
        {
            var scenario = $"delay {delay} s";
            var tracker = sink.Track($"{prefix}{delay}", users, users);
            var statuses = new int[users];
            using (var step = progress.Begin($"delay {delay} s ({users} messages)", users))
            {
                await Task.WhenAll(Enumerable.Range(0, users).Select(async u =>
                {
                    statuses[u] = await system.SendOneAsync(userIds[u], sink.UrlFor($"{prefix}{delay}"),
                        BenchPayload.Create(u, 0, Stopwatch.GetTimestamp(), settings.PayloadBytes), delay, cancellationToken);
                }));
                if (statuses.Any(s => s is < 200 or >= 300))
                {
                    _results.Add(BenchResult.Missing(scenario, "lateness beyond the delay", "failed", $"send-message answered {string.Join(',', statuses.Distinct())}"));
                    continue;
                }

                await tracker.WaitAsync(TimeSpan.FromSeconds(delay * 2 + 60), cancellationToken);
                step.Increment(users);
            }

            var latency = tracker.Latency();
            var delayMs = delay * 1000.0;
            _results.Add(new BenchResult(scenario, "lateness beyond the delay p50", "ms", latency.P50Ms - delayMs, Better: Better.Lower, Status: tracker.Unique == users ? "ok" : "incomplete"));
            _results.Add(new BenchResult(scenario, "lateness beyond the delay p99", "ms", latency.P99Ms - delayMs, Better: Better.Lower, Note: "negative = early"));
        }
    }

    /// <summary>GET /admin/queues, first page and a few repeats; "not available yet" on 404.</summary>
    private async Task AdminAsync(SystemClient system, CancellationToken cancellationToken)
    {
        const string Path = "admin/queues";
        var times = new List<double>();
        using var step = progress.Begin("GET /admin/queues", 5);
        for (var i = 0; i < 5; i++)
        {
            var (status, elapsed, _) = await system.GetAdminAsync(Path, settings.AdminApiKey, cancellationToken);
            if (status == HttpStatusCode.NotFound)
            {
                _results.Add(BenchResult.Missing("admin", "GET /admin/queues page time", "not available yet", "the API answers 404"));
                return;
            }

            if ((int)status is < 200 or >= 300)
            {
                _results.Add(BenchResult.Missing("admin", "GET /admin/queues page time", $"HTTP {(int)status}", "check --admin-key"));
                return;
            }

            times.Add(elapsed.TotalMilliseconds);
            step.Increment();
        }

        times.Sort();
        _results.Add(new BenchResult("admin", "GET /admin/queues page time, median of 5", "ms", times[2], Better: Better.Lower, Note: $"max {times[^1]:N0} ms"));
    }
}
