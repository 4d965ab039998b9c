using System.Diagnostics;
using System.Text;
using System.Text.Json;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using UserQueues.Bench.Infrastructure;
using UserQueues.Messaging;

namespace UserQueues.Bench.Scenarios;

/// <summary>
/// The baseline: RabbitMQ.Client 7 on the system's own broker, no HTTP. Queues with the very
/// arguments of user queues, persistent publishes with confirms, consume with manual ack and the
/// worker's prefetch. Its queues are named <c>bench.raw.{run}.…</c> and expire by themselves.
/// </summary>
public sealed class RawBroker : IAsyncDisposable
{
    /// <summary>A direct exchange of the bench's own, so the raw queues never touch user_exchange.</summary>
    public const string Exchange = "uq_bench";

    /// <summary>Raw queues disappear this long after their last consumer left.</summary>

    private const ushort Prefetch = 5;

    private readonly IConnection _connection;

    private RawBroker(IConnection connection) => _connection = connection;

    /// <summary>The broker's version as it announces itself on the connection.</summary>
    public string? ServerVersion =>
        _connection.ServerProperties?.TryGetValue("version", out var v) == true && v is byte[] bytes ? Encoding.UTF8.GetString(bytes) : null;

    public static async Task<RawBroker> ConnectAsync(Uri amqp, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory { Uri = amqp, ClientProvidedName = "userqueues-bench" };
        var connection = await factory.CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        await channel.ExchangeDeclareAsync(Exchange, ExchangeType.Direct, durable: true, autoDelete: false, cancellationToken: cancellationToken);
        return new RawBroker(connection);
    }

    public static string QueueName(string prefix, int index) => $"bench.raw.{prefix}.{index}";

    /// <summary>Declares and binds the queues over <paramref name="channels"/> channels, each declaring its share one after the other.</summary>
    public async Task<TimeSpan> DeclareAsync(IReadOnlyList<string> queues, int channels, IProgressStep progress, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, channels).Select(async c =>
        {
            await using var channel = await _connection.CreateChannelAsync(cancellationToken: cancellationToken);
            for (var i = c; i < queues.Count; i += channels)
            {
                await channel.QueueDeclareAsync(queues[i], durable: true, exclusive: false, autoDelete: false,
                    arguments: Topology.UserQueueArguments(), cancellationToken: cancellationToken);
                await channel.QueueBindAsync(queues[i], Exchange, queues[i], cancellationToken: cancellationToken);
                progress.Increment();
            }
        }));
        return watch.Elapsed;
    }

    /// <summary>
    /// Deletes the queues over <paramref name="channels"/> channels. Done as soon as a scenario no
    /// longer needs them: 10,000 idle classic queues left behind hold about 10,000 of the broker's
    /// file handles (RabbitMQ 3.10: each queue's index), and the system measured next would run
    /// close to the node's limit (20,000 here) while the baseline did not.
    /// </summary>
    public async Task DeleteAsync(IReadOnlyList<string> queues, int channels, CancellationToken cancellationToken)
    {
        await Task.WhenAll(Enumerable.Range(0, Math.Min(channels, queues.Count)).Select(async c =>
        {
            await using var channel = await _connection.CreateChannelAsync(cancellationToken: cancellationToken);
            for (var i = c; i < queues.Count; i += channels)
            {
                await channel.QueueDeleteAsync(queues[i], ifUnused: false, ifEmpty: false, cancellationToken: cancellationToken);
            }
        }));
    }

    /// <summary>
    /// basic.consume on every queue over <paramref name="channels"/> channels; the time is until
    /// the broker acknowledged the last consume-ok. Deliveries go to <see cref="Deliveries"/>.
    /// </summary>
    public async Task<(TimeSpan Elapsed, Consumers Consumers)> ConsumeAsync(IReadOnlyList<string> queues, int channels, IProgressStep progress, CancellationToken cancellationToken)
    {
        var consumers = new Consumers();
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, channels).Select(async c =>
        {
            var channel = await _connection.CreateChannelAsync(cancellationToken: cancellationToken);
            consumers.Add(channel);
            await channel.BasicQosAsync(0, Prefetch, global: false, cancellationToken);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += async (_, delivery) =>
            {
                var now = Stopwatch.GetTimestamp();
                using (var body = JsonDocument.Parse(delivery.Body))
                {
                    var (user, sequence, sent) = BenchPayload.Read(body.RootElement);
                    consumers.Tracker?.Record(delivery.BasicProperties.MessageId ?? $"{user}:{sequence}", user, sequence, sent, now);
                }

                await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
            };
            for (var i = c; i < queues.Count; i += channels)
            {
                await channel.BasicConsumeAsync(queues[i], autoAck: false, consumer, cancellationToken);
                progress.Increment();
            }
        }));
        return (watch.Elapsed, consumers);
    }

    /// <summary>
    /// Publishes <paramref name="messages"/> persistent messages over the queues (as SendPlan
    /// spreads them), each awaited until confirmed; returns the time until the last confirm.
    /// </summary>
    /// <param name="perSecond">Open loop at this rate (<see cref="SendPlan.RunPacedAsync"/>) instead of <paramref name="concurrency"/> in flight.</param>
    public async Task<(TimeSpan Elapsed, IReadOnlyCollection<(int User, int Sequence)> Failures)> PublishAsync(IReadOnlyList<string> queues, int messages, int concurrency, int channels, int payloadBytes, IProgressStep progress, CancellationToken cancellationToken, double? perSecond = null)
    {
        var options = new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true);
        var pool = new IChannel[channels];
        for (var i = 0; i < channels; i++)
        {
            pool[i] = await _connection.CreateChannelAsync(options, cancellationToken);
        }

        try
        {
            var watch = Stopwatch.StartNew();
            var failures = perSecond is { } rate
                ? await SendPlan.RunPacedAsync(queues.Count, messages, rate, PublishOneAsync, cancellationToken)
                : await SendPlan.RunAsync(queues.Count, messages, concurrency, PublishOneAsync, cancellationToken);
            return (watch.Elapsed, failures);

            async Task<bool> PublishOneAsync(int user, int sequence)
            {
                var body = BenchPayload.Create(user, sequence, Stopwatch.GetTimestamp(), payloadBytes);
                var properties = new BasicProperties { Persistent = true, MessageId = Guid.CreateVersion7().ToString(), ContentType = "application/json" };
                try
                {
                    await pool[user % channels].BasicPublishAsync(Exchange, queues[user], mandatory: true, properties, body, cancellationToken);
                    return true;
                }
                catch (RabbitMQ.Client.Exceptions.PublishException)
                {
                    return false;
                }
                finally
                {
                    progress.Increment();
                }
            }
        }
        finally
        {
            foreach (var channel in pool)
            {
                await channel.CloseAsync(CancellationToken.None);
                await channel.DisposeAsync();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _connection.CloseAsync();
        await _connection.DisposeAsync();
    }

    /// <summary>The consuming channels; closing them cancels the consumers (the queues then expire).</summary>
    public sealed class Consumers : IAsyncDisposable
    {
        private readonly List<IChannel> _channels = [];
        private readonly Lock _lock = new();

        /// <summary>Where deliveries are counted; set before publishing.</summary>
        public DeliveryTracker? Tracker { get; set; }

        internal void Add(IChannel channel)
        {
            lock (_lock)
            {
                _channels.Add(channel);
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var channel in _channels)
            {
                await channel.CloseAsync(CancellationToken.None);
                await channel.DisposeAsync();
            }
        }
    }
}
