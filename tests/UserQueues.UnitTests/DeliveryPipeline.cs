using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using UserQueues.Api.Apis;
using UserQueues.Api.RateLimiting;
using UserQueues.Messaging;
using UserQueues.Messaging.Egress;
using UserQueues.Messaging.Registry;
using UserQueues.Worker;
using UserQueues.Worker.Consumers;
using UserQueues.Worker.Delivery;

namespace UserQueues.UnitTests;

/// <summary>A callback as the receiver got it, with the trace context System.Net.Http sent.</summary>
public sealed record ReceivedCall(string Path, string WebhookId, string? TraceParent);

/// <summary>
/// The real send path and delivery path in one process, the broker replaced by
/// <see cref="InMemoryBroker"/>: the API's send-message handler (in a server span standing for
/// ASP.NET Core's), the provisioner and publisher, the delay forwarder, a user's consumer loop,
/// the message handler and the callback client with its real handler and connect callback, posting
/// to a Kestrel receiver on 127.0.0.1. Delay levels are skipped (a message published to them goes
/// straight to the forwarder, headers kept, as dead-lettering keeps them). Callback paths:
/// <c>ok/…</c> answers 200, <c>flaky/…</c> 503 to a message's first attempt then 200,
/// <c>bad/…</c> 400.
/// </summary>
public sealed class DeliveryPipeline : IAsyncDisposable
{
    /// <summary>The source of the stand-in for ASP.NET Core's request span.</summary>
    public const string RequestSourceName = "UserQueues.UnitTests.Requests";

    private static readonly ActivitySource RequestSource = new(RequestSourceName);

    private readonly string _directory = Directory.CreateTempSubdirectory("uq-telemetry-").FullName;
    private readonly InMemoryBroker _broker = new();
    private readonly ConcurrentQueue<ReceivedCall> _calls = new();
    private readonly ConcurrentDictionary<string, int> _attempts = new();
    private readonly ConcurrentDictionary<string, UserConsumer> _consumers = new();
    private readonly ConcurrentQueue<PublishedMessage> _deadLetters = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly BrokerChannels _channels;
    private readonly SqliteQueueRegistry _registry;
    private readonly MessageHandler _handler;
    private readonly DeliveryGate _gate;
    private readonly ProducerServices _producer;
    private readonly DelayedForwarder _forwarder;
    private readonly DeadLetters _deadLetterQueues;
    private WebApplication? _receiver;
    private Uri _receiverAddress = null!;

    public DeliveryPipeline()
    {
        var messaging = Options.Create(new MessagingOptions());
        var time = TimeProvider.System;
        _channels = new BrokerChannels(_broker.Connection, messaging);
        var publisher = new MessagePublisher(_channels, messaging, time);
        _registry = new SqliteQueueRegistry(Options.Create(new RegistryOptions { Path = Path.Combine(_directory, "registry.db") }));
        var topology = new BrokerTopology(_channels);
        var provisioner = new UserQueueProvisioner(topology, _registry, publisher, messaging, time);
        _deadLetterQueues = new DeadLetters(_channels, topology, publisher, provisioner, messaging);

        var policy = new CallbackAddressPolicy(allowPrivateNetworks: false, [IPNetwork.Parse("127.0.0.1/32")]);
        var delivery = Options.Create(new DeliveryOptions { TimeoutSeconds = 10, ConnectTimeoutSeconds = 5 });
        var connector = new CallbackConnector(policy, new SystemCallbackNetwork(), NullLogger<CallbackConnector>.Instance);
        var secrets = new InMemorySecretStore();
        var callbacks = new CallbackClient(new HttpClient(CallbackClient.CreateHandler(delivery.Value, connector)) { Timeout = Timeout.InfiniteTimeSpan },
            policy, connector, new WebhookSigningKeys(secrets, delivery, time), delivery, time, NullLogger<CallbackClient>.Instance);
        _handler = new MessageHandler(callbacks, new RetryPolicy(delivery), publisher, _deadLetterQueues, new QueueCounters(), time, NullLogger<MessageHandler>.Instance);
        _gate = new DeliveryGate(Options.Create(new WorkerOptions()));
        _forwarder = new DelayedForwarder(_broker.Connection, provisioner, NullLogger<DelayedForwarder>.Instance);
        _producer = new ProducerServices(provisioner, new QueueCounters(), messaging, time, policy, secrets,
            new UserRateLimiter(Options.Create(new RateLimitOptions()), time));
        _broker.Route = RouteAsync;
    }

    public IReadOnlyList<ReceivedCall> Calls => [.. _calls];

    public IReadOnlyList<PublishedMessage> Published => _broker.Published;

    public IReadOnlyList<PublishedMessage> DeadLetters => [.. _deadLetters];

    public async Task StartAsync()
    {
        await _registry.InitializeAsync(CancellationToken.None);
        await _forwarder.StartAsync(CancellationToken.None);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _receiver = builder.Build();
        _receiver.MapPost("/cb/{**path}", (HttpContext context, string path) =>
        {
            var id = context.Request.Headers["webhook-id"].ToString();
            var attempt = _attempts.AddOrUpdate(id, 1, (_, n) => n + 1);
            _calls.Enqueue(new ReceivedCall(path, id, context.Request.Headers["traceparent"].FirstOrDefault()));
            return path.Split('/')[0] switch
            {
                "flaky" when attempt == 1 => Results.StatusCode(503),
                "bad" => Results.StatusCode(400),
                _ => Results.Ok(),
            };
        });
        await _receiver.StartAsync();
        _receiverAddress = new Uri(_receiver.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
    }

    /// <summary>
    /// POSTs send-message through the API's own handler inside a server span, as ASP.NET Core
    /// would run it; returns the span and the message id.
    /// </summary>
    public async Task<(ActivityContext Request, string MessageId)> SendAsync(string userId, string callbackPath, int delaySeconds = 0)
    {
        using var request = RequestSource.StartActivity("POST /send-message", ActivityKind.Server, parentContext: default)
            ?? throw new InvalidOperationException($"Nothing listens to {RequestSourceName}.");
        var context = new DefaultHttpContext();
        var callbackUrl = new Uri(_receiverAddress, "/cb/" + callbackPath).AbsoluteUri;
        context.Request.ContentType = "application/json";
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(
            $$"""{"userId":"{{userId}}","callbackUrl":"{{callbackUrl}}","payload":{"n":1},"delaySeconds":{{delaySeconds}}}"""));
        var result = await ProducerApi.SendMessage(context.Request, _producer, CancellationToken.None);
        var ok = Assert.IsType<Ok<SendMessageResponse>>(result.Result);
        return (request.Context, ok.Value!.MessageId);
    }

    /// <summary>Waits until <paramref name="done"/> holds, or fails at the deadline.</summary>
    public static async Task WaitUntilAsync(Func<bool> done, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!done())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), $"Not within 20 s: {what}");
            await Task.Delay(20);
        }
    }

    private async Task RouteAsync(PublishedMessage message)
    {
        if (message.Exchange == Topology.UserExchange)
        {
            var userId = message.RoutingKey["user.".Length..];
            await _broker.DeliverAsync(ConsumerFor(userId), message);
        }
        else if (message.Exchange.StartsWith("user_delay.", StringComparison.Ordinal))
        {
            // The delay levels: the message waits (skipped here), dead-letters with its headers
            // kept, and lands in queue.delay_ready, where the forwarder consumes it.
            await _broker.DeliverAsync(_broker.ConsumerOf(Topology.DelayReadyQueue), message);
        }
        else if (message.Exchange == Topology.DeadLetterExchange)
        {
            _deadLetters.Enqueue(message);
        }
    }

    private UserConsumer ConsumerFor(string userId) => _consumers.GetOrAdd(userId, id =>
    {
        var consumer = new UserConsumer(_broker.CreateChannel(), id, QueueOrdering.Default, _gate, _handler, NullLogger.Instance, _abort.Token);
        // Started inside an unrelated span, as a control command would start it: no delivery may
        // become that span's child.
        using (RequestSource.StartActivity("unrelated control command", ActivityKind.Consumer, parentContext: default))
        {
            consumer.Start();
        }

        return consumer;
    });

    public async ValueTask DisposeAsync()
    {
        foreach (var consumer in _consumers.Values)
        {
            await consumer.StopAsync(CancellationToken.None);
            consumer.Dispose();
        }

        await _abort.CancelAsync();
        await _forwarder.DisposeAsync();
        await _broker.DisposeAsync();
        await _channels.DisposeAsync();
        _deadLetterQueues.Dispose();
        if (_receiver is not null)
        {
            await _receiver.DisposeAsync();
        }

        _abort.Dispose();
        _gate.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
