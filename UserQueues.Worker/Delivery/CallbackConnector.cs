using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using UserQueues.Messaging.Egress;

namespace UserQueues.Worker.Delivery;

/// <summary>Name resolution and TCP connects of callbacks; replaced in tests so that no packet leaves the machine.</summary>
public interface ICallbackNetwork
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);

    ValueTask<Stream> ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken);
}

/// <summary>The operating system's resolver and sockets.</summary>
public sealed class SystemCallbackNetwork : ICallbackNetwork
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        Dns.GetHostAddressesAsync(host, cancellationToken);

    public async ValueTask<Stream> ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>A callback destination the address policy refuses; no connection was opened.</summary>
public sealed class CallbackDestinationRefusedException(string host, IPAddress address, string reason)
    : Exception($"The callback host '{host}' is refused: {reason}.")
{
    public string Host { get; } = host;

    public IPAddress Address { get; } = address;

    /// <summary>The policy's sentence, e.g. "destination 10.0.0.1 is in a blocked network (private); allow it with Delivery:AllowedNetworks".</summary>
    public string Reason { get; } = reason;
}

/// <summary>
/// The callback client's <see cref="SocketsHttpHandler.ConnectCallback"/>: resolves the host once,
/// checks every address it resolves to, and connects only to those checked addresses, so that a DNS
/// answer that changes between check and connect (rebinding) cannot reach a blocked network. When
/// any address is blocked, the host is refused as a whole: a receiver with one foot in a private
/// network is not a public receiver.
/// </summary>
public sealed partial class CallbackConnector(CallbackAddressPolicy policy, ICallbackNetwork network, ILogger<CallbackConnector> logger)
{
    /// <summary>Bounds <see cref="_lastConnected"/>: past it the map starts again (it only feeds logs).</summary>
    private const int MaxRememberedHosts = 10_000;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Host, int Port), IPAddress> _lastConnected = new();

    /// <summary>
    /// The checked address the latest connection to <paramref name="host"/>:<paramref name="port"/>
    /// went to (connections are pooled, so an attempt may reuse one opened earlier); null if none.
    /// </summary>
    public IPAddress? LastConnectedAddress(string host, int port) =>
        _lastConnected.TryGetValue((host, port), out var address) ? address : null;

    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var (host, port) = (context.DnsEndPoint.Host, context.DnsEndPoint.Port);
        var addresses = await ResolveAsync(host, cancellationToken).ConfigureAwait(false);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        foreach (var address in addresses)
        {
            if (policy.Refuse(address) is { } reason)
            {
                LogRefused(logger, host, address, reason);
                throw new CallbackDestinationRefusedException(host, CallbackAddressPolicy.Normalize(address), reason);
            }
        }

        Exception? last = null;
        foreach (var address in addresses.Select(CallbackAddressPolicy.Normalize).Distinct())
        {
            LogConnecting(logger, host, address, port);
            try
            {
                var stream = await network.ConnectAsync(new IPEndPoint(address, port), cancellationToken).ConfigureAwait(false);
                if (_lastConnected.Count >= MaxRememberedHosts)
                {
                    _lastConnected.Clear();
                }

                _lastConnected[(host, port)] = address;
                return stream;
            }
            catch (SocketException e)
            {
                last = e;
            }
        }

        throw last!;
    }

    /// <summary>A literal address (brackets and a trailing dot removed) is used as it is; a name is resolved.</summary>
    private async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        var literal = host.TrimStart('[').TrimEnd(']').TrimEnd('.');
        return IPAddress.TryParse(literal, out var address)
            ? [address]
            : await network.ResolveAsync(host, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Callback connection to {Host} at {Address} port {Port}")]
    private static partial void LogConnecting(ILogger logger, string host, IPAddress address, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Callback to {Host} refused, it resolves to {Address}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string host, IPAddress address, string reason);
}
