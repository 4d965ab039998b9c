using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using UserQueues.Messaging;
using UserQueues.Messaging.Registry;
using UserQueues.Worker.Delivery;

namespace UserQueues.Worker.Consumers;

/// <summary>
/// One worker process consuming many user queues over a few channels (the seed's "consumer pool").
/// Consumers are spread over <see cref="WorkerOptions.Channels"/> lanes by userId. A lane whose
/// channel failed on its own (not a connection loss, which the client library recovers) is
/// replaced and its users are subscribed again by the next reconciliation.
/// </summary>
internal sealed partial class ConsumerPool : IAsyncDisposable
{
    private const int LockStripes = 64;

    private readonly IConnection _connection;
    private readonly BrokerTopology _topology;
    private readonly DeliveryGate _gate;
    private readonly MessageHandler _handler;
    private readonly WorkerOptions _options;
    private readonly ILogger<ConsumerPool> _logger;
    private readonly Lane[] _lanes;
    private readonly SemaphoreSlim[] _userLocks = [.. Enumerable.Range(0, LockStripes).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly ConcurrentDictionary<string, UserConsumer> _consumers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _missing = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _parkedUntil = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _commandedAt = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _abort = new();
    private long _commandClock;
    private long _allCommandedAt;
    private readonly string _tagPrefix = $"{Environment.MachineName}.{Environment.ProcessId}.";

    public ConsumerPool(IConnection connection, BrokerTopology topology, DeliveryGate gate, MessageHandler handler,
        IOptions<WorkerOptions> options, ILogger<ConsumerPool> logger)
    {
        _connection = connection;
        _topology = topology;
        _gate = gate;
        _handler = handler;
        _options = options.Value;
        _logger = logger;
        _lanes = [.. Enumerable.Range(0, _options.Channels).Select(i => new Lane(i))];
    }

    /// <summary>
    /// Users whose consumer an operator's stop cancelled here: their queues are on the broker (the
    /// janitor never expires a stopped queue; it parks a queue before deleting it, which takes it
    /// out of here), so a start consumes them without a passive declare first. That halves the
    /// broker round trips of a start-all of 10,000 queues. Emptied when a lane fails, in case a
    /// queue went away behind our back after all (a consume on it is what closes a lane).
    /// </summary>
    private readonly ConcurrentDictionary<string, byte> _stoppedOnBroker = new(StringComparer.Ordinal);

    /// <summary>
    /// True during a worker's first reconciliation: the registry's running queues are consumed
    /// without a passive declare first. They are on the broker unless deleted behind the registry's
    /// back, and a start of 10,000 queues then costs 10,000 round trips instead of 20,000. The first
    /// lane that a missing queue closes ends it (<see cref="OnLaneShutdownAsync"/>): the rest look first.
    /// </summary>
    private volatile bool _consumeUnlooked;

    /// <summary>Raised when a lane failed for good, so that reconciliation runs now rather than later.</summary>
    public event Action? RepairNeeded;

    public int ActiveCount => _consumers.Count(pair => pair.Value.IsActive);

    /// <summary>Deliveries this worker holds unacknowledged over all its consumers.</summary>
    public long UnackedCount => _consumers.Sum(pair => (long)pair.Value.Unacked);

    /// <summary>The users whose queues this worker consumes now.</summary>
    public IReadOnlyList<string> ActiveUsers => [.. _consumers.Where(pair => pair.Value.IsActive).Select(pair => pair.Key)];

    /// <summary>UserIds whose queue was not on the broker when last tried.</summary>
    public ICollection<string> Missing => _missing.Keys;

    /// <summary>
    /// Ticks with every control command. Reconciliation takes it before reading the registry and
    /// leaves alone the users commanded after that: a command is newer than the registry it read.
    /// </summary>
    public long CommandClock => Interlocked.Read(ref _commandClock);

    /// <summary>Records that a control command for <paramref name="userId"/> (null: for every user) arrived now.</summary>
    public void NoteCommand(string? userId)
    {
        var stamp = Interlocked.Increment(ref _commandClock);
        if (userId is null)
        {
            Interlocked.Exchange(ref _allCommandedAt, stamp);
        }
        else
        {
            _commandedAt[userId] = stamp;
        }
    }

    /// <summary>Asks for a reconciliation now (start-all: the registry changed for every queue).</summary>
    public void RequestReconcile() => RepairNeeded?.Invoke();

    private bool CommandedSince(string userId, long asOf) =>
        Interlocked.Read(ref _allCommandedAt) > asOf || (_commandedAt.TryGetValue(userId, out var at) && at > asOf);

    public bool IsSubscribed(string userId) => _consumers.TryGetValue(userId, out var consumer) && consumer.IsActive;

    /// <summary>Consumes the user's queue unless already consuming it; a queue not on the broker is remembered as missing.</summary>
    /// <param name="declared">The queue was declared a moment ago (<see cref="ControlCommand.Declared"/>): consume it without looking first.</param>
    public Task SubscribeAsync(string userId, QueueOrdering ordering, bool declared, CancellationToken cancellationToken) =>
        SubscribeAsync(userId, ordering, asOf: null, declared, cancellationToken);

    /// <summary>
    /// As <see cref="SubscribeAsync(string, QueueOrdering, bool, CancellationToken)"/>, for reconciliation: skipped when a
    /// control command for the user arrived after <paramref name="asOf"/> (checked under the user's lock).
    /// </summary>
    private async Task SubscribeAsync(string userId, QueueOrdering ordering, long? asOf, bool declared, CancellationToken cancellationToken)
    {
        var userLock = LockOf(userId);
        await userLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (asOf is null)
            {
                _parkedUntil.TryRemove(userId, out _); // an explicit subscribe ends a pause
            }

            if (IsSubscribed(userId) || _abort.IsCancellationRequested || (asOf is { } stamp && CommandedSince(userId, stamp)))
            {
                return;
            }

            // basic.consume on a missing queue would close the lane's channel and every consumer on it.
            if (!_stoppedOnBroker.TryRemove(userId, out _) && !declared && !_consumeUnlooked
                && await _topology.InspectUserQueueAsync(userId, cancellationToken).ConfigureAwait(false) is null)
            {
                _missing[userId] = 0;
                _consumers.TryRemove(userId, out _);
                return;
            }

            var lane = LaneOf(userId);
            var channel = await GetLaneChannelAsync(lane, cancellationToken).ConfigureAwait(false);
            var consumer = new UserConsumer(channel, userId, ordering, _gate, _handler, _logger, _abort.Token);
            consumer.Start();
            await channel.BasicConsumeAsync(Topology.QueueName(userId), autoAck: false, consumerTag: _tagPrefix + userId,
                noLocal: false, exclusive: false, arguments: null, consumer, cancellationToken).ConfigureAwait(false);
            _consumers[userId] = consumer;
            if (lane.Broken || !ReferenceEquals(lane.Channel, channel))
            {
                consumer.MarkCancelled(); // the channel failed while the consume was answered (OnLaneShutdownAsync)
            }

            _missing.TryRemove(userId, out _);
            LogSubscribed(_logger, userId, lane.Index);
        }
        finally
        {
            userLock.Release();
        }
    }

    /// <summary>Cancels the user's consumer; its in-flight delivery finishes, buffered messages go back to the queue.</summary>
    /// <returns>True when there was a consumer to cancel.</returns>
    public async Task<bool> UnsubscribeAsync(string userId, CancellationToken cancellationToken)
    {
        var userLock = LockOf(userId);
        await userLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_consumers.TryRemove(userId, out var consumer))
            {
                await consumer.StopAsync(cancellationToken).ConfigureAwait(false);
                consumer.Dispose();
                LogUnsubscribed(_logger, userId);
                return true;
            }

            return false;
        }
        finally
        {
            userLock.Release();
        }
    }

    /// <summary>An operator's stop (<see cref="UnsubscribeAsync"/>): the queue stays on the broker for the next start.</summary>
    public async Task StopConsumingAsync(string userId, CancellationToken cancellationToken)
    {
        if (await UnsubscribeAsync(userId, cancellationToken).ConfigureAwait(false))
        {
            _stoppedOnBroker[userId] = 0;
        }
    }

    /// <summary>
    /// Cancels the user's consumer like <see cref="UnsubscribeAsync"/> and leaves the queue alone
    /// for <paramref name="duration"/> (reconciliation does not subscribe it again meanwhile), so
    /// that the janitor can find it unused. A subscribe command ends the pause.
    /// </summary>
    public async Task ParkAsync(string userId, TimeSpan duration, CancellationToken cancellationToken)
    {
        _parkedUntil[userId] = Environment.TickCount64 + (long)duration.TotalMilliseconds;
        _stoppedOnBroker.TryRemove(userId, out _); // the janitor may delete it now
        await UnsubscribeAsync(userId, cancellationToken).ConfigureAwait(false);
    }

    private bool IsParked(string userId)
    {
        if (!_parkedUntil.TryGetValue(userId, out var until))
        {
            return false;
        }

        if (Environment.TickCount64 < until)
        {
            return true;
        }

        _parkedUntil.TryRemove(userId, out _);
        return false;
    }

    /// <summary>
    /// Cancels every consumer (stop-all); in-flight deliveries finish. Call <see cref="NoteCommand"/>
    /// first, so a reconciliation that read the registry before the stop subscribes nothing more.
    /// </summary>
    public async Task UnsubscribeAllAsync(CancellationToken cancellationToken)
    {
        // A barrier: a subscription in progress holds its user's lock, so once every lock was taken
        // once, each one that started before the command is in _consumers and is cancelled below.
        foreach (var userLock in _userLocks)
        {
            await userLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            userLock.Release();
        }

        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(4, _lanes.Length * 2), CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(_consumers.Keys.ToList(), parallel, async (userId, ct) => await StopConsumingAsync(userId, ct).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>
    /// Makes the consumers match <paramref name="desired"/>: subscribes what is missing (queues
    /// known to be absent only when <paramref name="retryMissing"/>), cancels what is not wanted,
    /// forgets consumers that died.
    /// </summary>
    /// <param name="asOf">The <see cref="CommandClock"/> taken before <paramref name="desired"/> was read.</param>
    /// <param name="first">The worker's first reconciliation: consume without looking first (<see cref="_consumeUnlooked"/>).</param>
    public async Task ReconcileAsync(IReadOnlyCollection<QueueRecord> desired, bool retryMissing, long asOf, bool first, CancellationToken cancellationToken)
    {
        _consumeUnlooked = first;
        try
        {
            await ReconcileAsync(desired, retryMissing, asOf, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _consumeUnlooked = false;
        }
    }

    private async Task ReconcileAsync(IReadOnlyCollection<QueueRecord> desired, bool retryMissing, long asOf, CancellationToken cancellationToken)
    {
        foreach (var (userId, consumer) in _consumers)
        {
            if (!consumer.IsActive)
            {
                _consumers.TryRemove(new KeyValuePair<string, UserConsumer>(userId, consumer));
            }
        }

        var wanted = desired.Select(q => q.UserId).ToHashSet(StringComparer.Ordinal);
        var toSubscribe = desired.Where(q => !IsSubscribed(q.UserId) && !IsParked(q.UserId) && (retryMissing || !_missing.ContainsKey(q.UserId))).ToArray();
        // With single active consumer, the first replica to consume a queue is its active one.
        // Replicas starting together subscribe in different random orders, so that each ends up
        // active for a share of the queues instead of one replica for all of them.
        Random.Shared.Shuffle(toSubscribe);
        var toCancel = _consumers.Keys.Where(u => !wanted.Contains(u) && !CommandedSince(u, asOf)).ToList();
        foreach (var gone in _missing.Keys.Where(u => !wanted.Contains(u)))
        {
            _missing.TryRemove(gone, out _);
        }

        // Declares and consumes are round trips: run them over several channels at once.
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(4, _lanes.Length * 2), CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(toSubscribe, parallel, async (queue, ct) =>
        {
            try
            {
                await SubscribeAsync(queue.UserId, queue.Ordering, asOf, declared: false, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogSubscribeFailed(_logger, queue.UserId, e.Message);
            }
        }).ConfigureAwait(false);
        await Parallel.ForEachAsync(toCancel, parallel, async (userId, ct) => await UnsubscribeAsync(userId, ct).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>Stops every consumer, lets in-flight deliveries finish within <paramref name="grace"/>, then closes the lanes.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        using var timeout = new CancellationTokenSource(grace);
        var consumers = _consumers.Values.ToList();
        _consumers.Clear();
        try
        {
            await Task.WhenAll(consumers.Select(async c =>
            {
                await c.StopAsync(timeout.Token).ConfigureAwait(false);
                c.Dispose();
            })).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
            LogStopTimedOut(_logger, grace.TotalSeconds);
        }

        // Whatever is still in flight now is abandoned: unacknowledged, the broker redelivers it.
        await _abort.CancelAsync().ConfigureAwait(false);
        foreach (var lane in _lanes)
        {
            if (lane.Channel is { } channel && await channel.CloseQuietlyAsync().ConfigureAwait(false) is { } problem)
            {
                LogSettleOnClose(_logger, lane.Index, problem);
            }

            lane.Channel = null;
        }
    }

    private async Task<IChannel> GetLaneChannelAsync(Lane lane, CancellationToken cancellationToken)
    {
        await lane.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (lane.Channel is { IsOpen: true } open && !lane.Broken)
            {
                return open;
            }

            if (lane.Channel is { } old)
            {
                await old.DisposeAsync().ConfigureAwait(false);
            }

            var channel = await _connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: false, publisherConfirmationTrackingEnabled: false),
                cancellationToken).ConfigureAwait(false);
            // Per consumer (global: false): each user queue gets PREFETCH messages ahead.
            await channel.BasicQosAsync(0, (ushort)_options.Prefetch, global: false, cancellationToken).ConfigureAwait(false);
            channel.ChannelShutdownAsync += (_, reason) => OnLaneShutdownAsync(lane, channel, reason);
            lane.Channel = channel;
            lane.Broken = false;
            return channel;
        }
        finally
        {
            lane.Lock.Release();
        }
    }

    private Task OnLaneShutdownAsync(Lane lane, IChannel channel, ShutdownEventArgs reason)
    {
        // A connection loss closes every channel and the client library recovers them (and their
        // consumers). A channel closed by the broker while the connection lives is gone for good,
        // with its consumers: reconciliation subscribes their users again on a new channel. This
        // marks them now, since a subscription in progress may replace the lane's channel before
        // the next reconciliation looks.
        if (reason.Initiator == ShutdownInitiator.Peer && _connection.IsOpen && !_abort.IsCancellationRequested)
        {
            foreach (var consumer in _consumers.Values.Where(c => ReferenceEquals(c.Channel, channel)))
            {
                consumer.MarkCancelled();
            }

            if (ReferenceEquals(lane.Channel, channel))
            {
                lane.Broken = true;
            }

            _stoppedOnBroker.Clear();
            _consumeUnlooked = false;
            LogLaneBroken(_logger, lane.Index, reason.ReplyCode, reason.ReplyText);
            RepairNeeded?.Invoke();
        }

        return Task.CompletedTask;
    }

    private Lane LaneOf(string userId) => _lanes[(int)((uint)StableHash(userId) % (uint)_lanes.Length)];

    private SemaphoreSlim LockOf(string userId) => _userLocks[(int)((uint)StableHash(userId) % LockStripes)];

    /// <summary>FNV-1a: the same lane for a user in every process (string.GetHashCode is randomised per process).</summary>
    private static int StableHash(string value)
    {
        var hash = 2166136261u;
        foreach (var c in value)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)hash;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_abort.IsCancellationRequested)
        {
            await StopAsync(TimeSpan.FromSeconds(_options.ShutdownTimeoutSeconds)).ConfigureAwait(false);
        }

        _abort.Dispose();
        foreach (var userLock in _userLocks)
        {
            userLock.Dispose();
        }

        foreach (var lane in _lanes)
        {
            lane.Lock.Dispose();
        }
    }

    private sealed class Lane(int index)
    {
        public int Index { get; } = index;
        public SemaphoreSlim Lock { get; } = new(1, 1);
        public IChannel? Channel { get; set; }
        public volatile bool Broken;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Consuming the queue of {UserId} on lane {Lane}")]
    private static partial void LogSubscribed(ILogger logger, string userId, int lane);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopped consuming the queue of {UserId}")]
    private static partial void LogUnsubscribed(ILogger logger, string userId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not consume the queue of {UserId}: {Reason}")]
    private static partial void LogSubscribeFailed(ILogger logger, string userId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lane {Lane} was closed by the broker ({ReplyCode} {ReplyText}); its consumers are being resubscribed")]
    private static partial void LogLaneBroken(ILogger logger, int lane, ushort replyCode, string replyText);

    [LoggerMessage(Level = LogLevel.Warning, Message = "In-flight deliveries did not finish within {Seconds} s; they will be redelivered")]
    private static partial void LogStopTimedOut(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Closing lane {Lane} failed: {Reason}")]
    private static partial void LogSettleOnClose(ILogger logger, int lane, string reason);
}
