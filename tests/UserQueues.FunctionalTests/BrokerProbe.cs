using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using UserQueues.Messaging;

namespace UserQueues.FunctionalTests;

/// <summary>Looks at the real broker from outside UserQueues: AMQP for queue state, the management API for arguments.</summary>
public sealed class BrokerProbe : IAsyncDisposable
{
    private readonly IConnection _connection;
    private readonly HttpClient _management;

    private BrokerProbe(IConnection connection, HttpClient management)
    {
        _connection = connection;
        _management = management;
    }

    public static async Task<BrokerProbe> ConnectAsync(string connectionString, Uri managementUrl)
    {
        var uri = new Uri(connectionString);
        var connection = await new ConnectionFactory { Uri = uri, ClientProvidedName = "functional-tests" }.CreateConnectionAsync();
        var management = new HttpClient { BaseAddress = managementUrl };
        // The management API takes the same user as AMQP (guest locally, a generated one in a container).
        var credentials = Uri.UnescapeDataString(uri.UserInfo);
        management.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        return new BrokerProbe(connection, management);
    }

    /// <summary>Ready messages and consumers of a queue, or null when it does not exist.</summary>
    /// <summary>The probe's own connection (for <see cref="UserQueues.Bench.Scenarios.QueueConsumers"/>).</summary>
    public IConnection Connection => _connection;

    public async Task<QueueDeclareOk?> InspectAsync(string queue)
    {
        await using var channel = await _connection.CreateChannelAsync();
        try
        {
            return await channel.QueueDeclarePassiveAsync(queue);
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
        {
            return null;
        }
    }

    /// <summary>
    /// Publishes a message straight to a user's queue, as a producer with broker access (or a URL
    /// whose DNS changed after submit) could: the worker must apply its own checks.
    /// </summary>
    public async Task PublishAsync(UserMessage message)
    {
        await using var channel = await _connection.CreateChannelAsync(new CreateChannelOptions(
            publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await channel.BasicPublishAsync(Topology.UserExchange, Topology.RoutingKey(message.UserId), mandatory: true, message.ToProperties(), message.Payload);
    }

    /// <summary>The queue's arguments as the management API reports them.</summary>
    public async Task<JsonElement> QueueArgumentsAsync(string queue)
    {
        var info = await _management.GetFromJsonAsync<JsonElement>($"api/queues/%2F/{Uri.EscapeDataString(queue)}?columns=arguments");
        return info.GetProperty("arguments");
    }

    /// <summary>The largest parts of the broker node's memory (management API memory breakdown), in bytes.</summary>
    public async Task<IReadOnlyList<(string Part, long Bytes)>> NodeMemoryBreakdownAsync(int top)
    {
        var nodes = await _management.GetFromJsonAsync<JsonElement>("api/nodes?columns=name");
        var name = nodes[0].GetProperty("name").GetString()!;
        var breakdown = await _management.GetFromJsonAsync<JsonElement>($"api/nodes/{Uri.EscapeDataString(name)}/memory");
        return [.. breakdown.GetProperty("memory").EnumerateObject()
            .Where(p => p.Value.ValueKind == JsonValueKind.Number)
            .Select(p => (p.Name, p.Value.GetInt64()))
            .OrderByDescending(p => p.Item2)
            .Take(top)];
    }

    /// <summary>One part of the broker node's memory breakdown (e.g. <c>queue_procs</c>), in bytes.</summary>
    public async Task<long> NodeMemoryPartAsync(string part) =>
        (await NodeMemoryBreakdownAsync(int.MaxValue)).Single(p => p.Part == part).Bytes;

    /// <summary>Memory the broker node uses, in bytes, as the management API reports it.</summary>
    public async Task<long> NodeMemoryAsync()
    {
        var nodes = await _management.GetFromJsonAsync<JsonElement>("api/nodes?columns=mem_used");
        return nodes.EnumerateArray().Sum(n => n.GetProperty("mem_used").GetInt64());
    }

    /// <summary>The queue's ready messages as the management API reports them (its statistics lag a few seconds).</summary>
    public async Task<long> ManagementReadyAsync(string queue)
    {
        var info = await _management.GetFromJsonAsync<JsonElement>($"api/queues/%2F/{Uri.EscapeDataString(queue)}");
        if (info.ValueKind == JsonValueKind.Array)
        {
            info = info.EnumerateArray().FirstOrDefault();
        }

        return info.ValueKind == JsonValueKind.Object && info.TryGetProperty("messages_ready", out var ready) && ready.TryGetInt64(out var count) ? count : -1;
    }

    /// <summary>
    /// Worker instances listening for control commands: each binds its own exclusive queue to the
    /// control exchange, and the broker drops the binding with the queue when the instance goes.
    /// </summary>
    public async Task<int> ControlListenersAsync()
    {
        var bindings = await _management.GetFromJsonAsync<JsonElement>($"api/exchanges/%2F/{Topology.ControlExchange}/bindings/source");
        return bindings.GetArrayLength();
    }

    /// <summary>
    /// How many user queues each connection is the single active consumer of (the management
    /// API's view; its statistics lag a few seconds).
    /// </summary>
    public async Task<IReadOnlyList<int>> ActiveUserQueuesPerConnectionAsync()
    {
        var consumers = await _management.GetFromJsonAsync<JsonElement>("api/consumers/%2F");
        return [.. consumers.EnumerateArray()
            .Where(c => c.GetProperty("queue").GetProperty("name").GetString()!.StartsWith(Topology.QueuePrefix, StringComparison.Ordinal)
                && c.TryGetProperty("active", out var active) && active.GetBoolean())
            .GroupBy(c => c.GetProperty("channel_details").GetProperty("connection_name").GetString())
            .Select(g => g.Count())
            .OrderDescending()];
    }

    /// <summary>Takes (and removes) the dead letters of one user from its dead-letter queue; none when the queue does not exist.</summary>
    public async Task<List<(IReadOnlyBasicProperties Properties, string Body)>> TakeDeadLettersAsync(string userId)
    {
        await using var channel = await _connection.CreateChannelAsync();
        var mine = new List<(IReadOnlyBasicProperties, string)>();
        try
        {
            while (await channel.BasicGetAsync(Topology.DeadLetterQueueName(userId), autoAck: true) is { } result)
            {
                mine.Add((result.BasicProperties, Encoding.UTF8.GetString(result.Body.Span)));
            }
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
        {
            // No dead letter for this user yet.
        }

        return mine;
    }

    /// <summary>
    /// Publishes a dead letter into the shared inbox <c>queue.dead_letter</c>, as the versions before
    /// per-user dead-letter queues did (routing key <c>dead</c>, the userId in its header).
    /// </summary>
    public async Task PublishLegacyDeadLetterAsync(UserMessage message, string reason)
    {
        await using var channel = await _connection.CreateChannelAsync(new CreateChannelOptions(
            publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        var properties = message.ToProperties();
        properties.Headers![MessageHeaders.DeadLetterReason] = reason;
        await channel.BasicPublishAsync(Topology.DeadLetterExchange, Topology.DeadLetterRoutingKey, mandatory: true, properties, message.Payload);
    }

    /// <summary>Deletes a queue, whatever it holds (test set-up only).</summary>
    public async Task DeleteQueueAsync(string queue)
    {
        await using var channel = await _connection.CreateChannelAsync();
        await channel.QueueDeleteAsync(queue);
    }

    public async ValueTask DisposeAsync()
    {
        await _connection.CloseAsync();
        await _connection.DisposeAsync();
        _management.Dispose();
    }
}
