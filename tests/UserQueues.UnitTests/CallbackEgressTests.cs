using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using UserQueues.Messaging;
using UserQueues.Messaging.Egress;
using UserQueues.Messaging.Signing;
using UserQueues.Worker.Delivery;

namespace UserQueues.UnitTests;

/// <summary>
/// The callback client with its real handler and connect callback, in process. No packet leaves
/// the machine: <see cref="LoopbackOnlyNetwork"/> sends any connect to a counting listener on
/// 127.0.0.1, so a destination that got through the guard would be counted there.
/// </summary>
public sealed class CallbackEgressTests : IAsyncDisposable
{
    private static readonly DeliveryOptions Delivery = new() { TimeoutSeconds = 10, ConnectTimeoutSeconds = 5 };
    private readonly CountingListener _listener = new();
    private CallbackConnector? _connector;

    private (CallbackClient Client, LoopbackOnlyNetwork Network) Build(CallbackAddressPolicy policy, CountingListener? listener = null, DeliveryOptions? delivery = null, InMemorySecretStore? secrets = null)
    {
        var network = new LoopbackOnlyNetwork(listener ?? _listener, new Dictionary<string, IPAddress[]>
        {
            ["rebind.test"] = [IPAddress.Loopback],
            ["metadata.test"] = [IPAddress.Parse("169.254.169.254")],
            ["mixed.test"] = [IPAddress.Parse("93.184.215.14"), IPAddress.Parse("10.0.0.1")],
            ["mapped.test"] = [IPAddress.Parse("::ffff:192.168.0.10")],
            ["receiver.test"] = [IPAddress.Loopback],
        });
        var options = Options.Create(delivery ?? Delivery);
        var connector = new CallbackConnector(policy, network, NullLogger<CallbackConnector>.Instance);
        var http = new HttpClient(CallbackClient.CreateHandler(options.Value, connector)) { Timeout = Timeout.InfiniteTimeSpan };
        var keys = new WebhookSigningKeys(secrets ?? new InMemorySecretStore(), options, TimeProvider.System);
        _connector = connector;
        return (new CallbackClient(http, policy, connector, keys, options, TimeProvider.System, NullLogger<CallbackClient>.Instance), network);
    }

    private static UserMessage Message(string url) =>
        new(Guid.CreateVersion7().ToString(), "u1", url, "{\"n\":1}"u8.ToArray(), DateTimeOffset.UtcNow);

    public static TheoryData<string, string> BlockedDestinations => new()
    {
        { "http://127.0.0.1:{port}/cb", "destination 127.0.0.1 is in a blocked network (loopback)" },
        { "http://10.0.0.1/cb", "destination 10.0.0.1 is in a blocked network (private); allow it with Delivery:AllowedNetworks" },
        { "http://169.254.169.254/latest/meta-data/", "destination 169.254.169.254 is in a blocked network (link-local, cloud metadata)" },
        { "http://[::1]:{port}/cb", "destination ::1 is in a blocked network (loopback)" },
        { "http://[::ffff:127.0.0.1]:{port}/cb", "destination 127.0.0.1 is in a blocked network (loopback)" },
        { "http://2130706433:{port}/cb", "destination 127.0.0.1 is in a blocked network (loopback)" },
        { "http://0x7f.1:{port}/cb", "destination 127.0.0.1 is in a blocked network (loopback)" },
        { "http://localhost:{port}/cb", "is in a blocked network (loopback)" },
        { "http://rebind.test:{port}/cb", "destination 127.0.0.1 is in a blocked network (loopback)" },
        { "http://metadata.test/cb", "destination 169.254.169.254 is in a blocked network (link-local" },
        { "http://mixed.test/cb", "destination 10.0.0.1 is in a blocked network (private)" },
        { "http://mapped.test/cb", "destination 192.168.0.10 is in a blocked network (private)" },
        { "https://rebind.test:{port}/cb", "destination 127.0.0.1 is in a blocked network (loopback)" },
    };

    [Theory]
    [MemberData(nameof(BlockedDestinations))]
    public async Task ABlockedDestinationIsAPermanentFailureWithItsReasonAndNeverReceivesAConnection(string url, string reason)
    {
        var (client, network) = Build(CallbackAddressPolicy.PublicOnly);

        var result = await client.PostAsync(Message(url.Replace("{port}", _listener.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)), CancellationToken.None);

        Assert.Equal(DeliveryVerdict.Permanent, result.Verdict);
        Assert.Null(result.StatusCode);
        Assert.Contains(reason, result.Reason);
        Assert.Empty(network.Connects);
        Assert.Equal(0, _listener.Accepted);
    }

    [Theory]
    [InlineData("http://127.0.0.1:{port}/cb", "destination 127.0.0.1 ")]
    [InlineData("http://[::1]:{port}/cb", "destination ::1 ")]
    [InlineData("http://[::ffff:127.0.0.1]:{port}/cb", "destination 127.0.0.1 ")]
    [InlineData("http://2130706433:{port}/cb", "destination 127.0.0.1 ")]
    [InlineData("http://0x7f.1:{port}/cb", "destination 127.0.0.1 ")]
    [InlineData("http://10.0.0.1/cb", "destination 10.0.0.1 ")]
    [InlineData("http://169.254.169.254/cb", "destination 169.254.169.254 ")]
    public async Task TheConnectCallbackAloneRefusesLiteralAddressesToo(string url, string reason)
    {
        // Straight through the handler, past CallbackClient's own URL check: the connect-time guard holds by itself.
        var network = new LoopbackOnlyNetwork(_listener);
        var connector = new CallbackConnector(CallbackAddressPolicy.PublicOnly, network, NullLogger<CallbackConnector>.Instance);
        using var http = new HttpClient(CallbackClient.CreateHandler(Delivery, connector));

        var error = await Assert.ThrowsAsync<HttpRequestException>(() =>
            http.PostAsync(url.Replace("{port}", _listener.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal), new StringContent("{}")));

        Assert.Contains(reason, DeliveryResult.FindRefusal(error)?.Reason);
        Assert.Empty(network.Connects);
        Assert.Equal(0, _listener.Accepted);
    }

    [Fact]
    public async Task AnAllowedNetworkIsReachedWhichProvesTheListenerWouldHaveCountedARefusedOne()
    {
        var (client, network) = Build(new CallbackAddressPolicy(false, [IPNetwork.Parse("127.0.0.1/32")]));

        var result = await client.PostAsync(Message($"http://rebind.test:{_listener.Port}/cb"), CancellationToken.None);

        Assert.Equal(DeliveryVerdict.Delivered, result.Verdict);
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, _listener.Port)], network.Connects);
        Assert.Equal(1, _listener.Accepted);
        Assert.Equal(IPAddress.Loopback, _connector!.LastConnectedAddress("rebind.test", _listener.Port));
    }

    [Fact]
    public async Task ARedirectToAPrivateAddressIsNotFollowedAndIsPermanent()
    {
        await using var redirecting = new CountingListener(
            "HTTP/1.1 302 Found\r\nLocation: http://10.0.0.1/internal\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        var (client, network) = Build(new CallbackAddressPolicy(false, [IPNetwork.Parse("127.0.0.1/32")]), redirecting);

        var result = await client.PostAsync(Message($"http://receiver.test:{redirecting.Port}/cb"), CancellationToken.None);

        Assert.Equal(DeliveryVerdict.Permanent, result.Verdict);
        Assert.Equal(302, result.StatusCode);
        // One connection, to the receiver itself; none for the redirect's target.
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, redirecting.Port)], network.Connects);
        Assert.Equal(1, redirecting.Accepted);
    }

    [Theory]
    [InlineData("ftp://example.com/x", "absolute http")]
    [InlineData("http://user:pass@example.com/x", "credentials")]
    [InlineData("/relative", "absolute http")]
    public async Task ACallbackUrlTheApiWouldRefuseIsRefusedByTheWorkerToo(string url, string says)
    {
        var (client, network) = Build(CallbackAddressPolicy.PublicOnly);

        var result = await client.PostAsync(Message(url), CancellationToken.None);

        Assert.Equal(DeliveryVerdict.Permanent, result.Verdict);
        Assert.Contains(says, result.Reason);
        Assert.Empty(network.Connects);
    }

    [Fact]
    public async Task DeliveriesAreSignedAsAnIndependentVerifierExpects()
    {
        var secret = WebhookSecret.Generate();
        var store = new InMemorySecretStore();
        await store.AddIfMissingAsync("u1", secret, DateTimeOffset.UtcNow, CancellationToken.None);
        var (client, _) = Build(new CallbackAddressPolicy(false, [IPNetwork.Parse("127.0.0.1/32")]), secrets: store);

        var result = await client.PostAsync(Message($"http://127.0.0.1:{_listener.Port}/cb"), CancellationToken.None);

        Assert.Equal(DeliveryVerdict.Delivered, result.Verdict);
        var request = Assert.Single(_listener.Requests);
        var (head, body) = (request[..request.IndexOf("\r\n\r\n", StringComparison.Ordinal)], request[(request.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
        string Header(string name) => head.Split("\r\n").Single(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))[(name.Length + 1)..].Trim();

        var key = Convert.FromBase64String(secret.Reveal()["whsec_".Length..]);
        using var hmac = new HMACSHA256(key);
        var expected = Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes($"{Header("webhook-id")}.{Header("webhook-timestamp")}.{body}")));
        Assert.Equal("v1," + expected, Header("webhook-signature"));
    }

    [Fact]
    public async Task WithoutAnySecretDeliveriesCarryNoSignature()
    {
        var (client, _) = Build(new CallbackAddressPolicy(false, [IPNetwork.Parse("127.0.0.1/32")]));

        await client.PostAsync(Message($"http://127.0.0.1:{_listener.Port}/cb"), CancellationToken.None);

        Assert.DoesNotContain("webhook-signature", Assert.Single(_listener.Requests), StringComparison.OrdinalIgnoreCase);
    }

    public ValueTask DisposeAsync() => _listener.DisposeAsync();
}
