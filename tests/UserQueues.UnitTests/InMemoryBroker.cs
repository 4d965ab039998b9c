using System.Collections.Concurrent;
using System.Reflection;
using System.Text;
using System.Threading.Channels;
using RabbitMQ.Client;

namespace UserQueues.UnitTests;

/// <summary>One message as it left a publisher.</summary>
public sealed record PublishedMessage(string Exchange, string RoutingKey, IReadOnlyBasicProperties Properties, byte[] Body);

/// <summary>
/// Just enough of a RabbitMQ broker, in memory, to run the real publisher, forwarder and user
/// consumer in process: every <see cref="IChannel.BasicPublishAsync{TProperties}(string, string, bool, TProperties, ReadOnlyMemory{byte}, CancellationToken)"/>
/// is recorded and confirmed at once, and handed to <see cref="Route"/> on a pump that runs with no
/// ambient ExecutionContext (like the client's dispatcher). Headers reach consumers as a real
/// broker sends them: strings as UTF-8 byte arrays. Channels and the connection are
/// <see cref="DispatchProxy"/> fakes; any method not needed here answers a default value.
/// </summary>
public sealed class InMemoryBroker : IAsyncDisposable
{
    private readonly Channel<PublishedMessage> _pump = System.Threading.Channels.Channel.CreateUnbounded<PublishedMessage>();
    private readonly ConcurrentQueue<PublishedMessage> _published = new();
    private readonly ConcurrentQueue<ulong> _acks = new();
    private readonly ConcurrentDictionary<string, IAsyncBasicConsumer> _consumers = new();
    private readonly Task _pumping;
    private long _deliveryTag;

    public InMemoryBroker()
    {
        Connection = FakeRabbit.Connection(this);
        using (ExecutionContext.SuppressFlow())
        {
            _pumping = Task.Run(PumpAsync);
        }
    }

    public IConnection Connection { get; }

    /// <summary>Where a publish goes; by default nowhere (recorded only).</summary>
    public Func<PublishedMessage, Task> Route { get; set; } = _ => Task.CompletedTask;

    public IReadOnlyList<PublishedMessage> Published => [.. _published];

    public IReadOnlyCollection<ulong> Acks => [.. _acks];

    public IChannel CreateChannel() => FakeRabbit.Channel(this);

    /// <summary>The consumer a component registered on <paramref name="queue"/> with basic.consume.</summary>
    public IAsyncBasicConsumer ConsumerOf(string queue) => _consumers[queue];

    /// <summary>Delivers a published message to <paramref name="consumer"/> as the broker would.</summary>
    public Task DeliverAsync(IAsyncBasicConsumer consumer, PublishedMessage message) =>
        consumer.HandleBasicDeliverAsync("ctag", (ulong)Interlocked.Increment(ref _deliveryTag), redelivered: false,
            message.Exchange, message.RoutingKey, AsDelivered(message.Properties), message.Body, CancellationToken.None);

    private static BasicProperties AsDelivered(IReadOnlyBasicProperties published) => new(published)
    {
        Headers = published.Headers?.ToDictionary(
            pair => pair.Key,
            pair => pair.Value is string text ? (object?)Encoding.UTF8.GetBytes(text) : pair.Value),
    };

    internal void Record(PublishedMessage message)
    {
        _published.Enqueue(message);
        _pump.Writer.TryWrite(message);
    }

    internal void RecordAck(ulong deliveryTag) => _acks.Enqueue(deliveryTag);

    internal void RecordConsumer(string queue, IAsyncBasicConsumer consumer) => _consumers[queue] = consumer;

    private async Task PumpAsync()
    {
        await foreach (var message in _pump.Reader.ReadAllAsync())
        {
            await Route(message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _pump.Writer.TryComplete();
        await _pumping;
    }
}

/// <summary>The proxies behind <see cref="InMemoryBroker"/>.</summary>
public class FakeRabbit : DispatchProxy
{
    private InMemoryBroker _broker = null!;
    private bool _isChannel;

    internal static IConnection Connection(InMemoryBroker broker)
    {
        var proxy = Create<IConnection, FakeRabbit>();
        ((FakeRabbit)(object)proxy)._broker = broker;
        return proxy;
    }

    internal static IChannel Channel(InMemoryBroker broker)
    {
        var proxy = Create<IChannel, FakeRabbit>();
        var fake = (FakeRabbit)(object)proxy;
        fake._broker = broker;
        fake._isChannel = true;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        args ??= [];
        switch (targetMethod.Name)
        {
            case "CreateChannelAsync" when !_isChannel:
                return Task.FromResult(_broker.CreateChannel());
            case "BasicPublishAsync":
                _broker.Record(new PublishedMessage(args[0]!.ToString()!, args[1]!.ToString()!,
                    (IReadOnlyBasicProperties)args[3]!, ((ReadOnlyMemory<byte>)args[4]!).ToArray()));
                return ValueTask.CompletedTask;
            case "BasicAckAsync":
                _broker.RecordAck((ulong)args[0]!);
                return ValueTask.CompletedTask;
            case "BasicConsumeAsync":
                _broker.RecordConsumer((string)args[0]!, args.OfType<IAsyncBasicConsumer>().Single());
                return Task.FromResult("ctag");
            case "QueueDeclareAsync":
                return Task.FromResult(new QueueDeclareOk((string)args[0]!, 0, 0));
            case "get_IsOpen":
                return true;
            default:
                return DefaultOf(targetMethod.ReturnType);
        }
    }

    private static object? DefaultOf(Type type)
    {
        if (type == typeof(void))
        {
            return null;
        }

        if (type == typeof(Task))
        {
            return Task.CompletedTask;
        }

        if (type == typeof(ValueTask))
        {
            return ValueTask.CompletedTask;
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Task<>))
        {
            var result = type.GetGenericArguments()[0];
            return typeof(Task).GetMethod(nameof(Task.FromResult))!.MakeGenericMethod(result)
                .Invoke(null, [result.IsValueType ? Activator.CreateInstance(result) : null]);
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ValueTask<>))
        {
            return Activator.CreateInstance(type);
        }

        return type.IsValueType ? Activator.CreateInstance(type) : null;
    }
}
