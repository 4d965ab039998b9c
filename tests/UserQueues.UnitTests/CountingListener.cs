using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace UserQueues.UnitTests;

/// <summary>
/// A TCP listener on 127.0.0.1 that counts every connection it accepts and answers each request
/// with a fixed HTTP response; it keeps the raw requests so a test can check what arrived.
/// </summary>
public sealed class CountingListener : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly string _response;
    private readonly Task _accepting;
    private int _accepted;

    public CountingListener(string response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    {
        _response = response;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    public int Port => EndPoint.Port;

    public int Accepted => Volatile.Read(ref _accepted);

    public IReadOnlyList<string> Requests => [.. _requests];

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            _ = AnswerAsync(client);
        }
    }

    private async Task AnswerAsync(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            var received = new MemoryStream();
            var buffer = new byte[8192];
            try
            {
                while (!HasWholeRequest(received))
                {
                    var read = await stream.ReadAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        break;
                    }

                    received.Write(buffer, 0, read);
                }

                _requests.Enqueue(Encoding.UTF8.GetString(received.ToArray()));
                await stream.WriteAsync(Encoding.ASCII.GetBytes(_response), _stop.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
            {
                // The client went away: the connection was counted all the same.
            }
        }
    }

    private static bool HasWholeRequest(MemoryStream received)
    {
        var text = Encoding.UTF8.GetString(received.GetBuffer(), 0, (int)received.Length);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0)
        {
            return false;
        }

        var length = text[..end].Split("\r\n")
            .Where(line => line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            .Select(line => int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture))
            .FirstOrDefault();
        return Encoding.UTF8.GetByteCount(text) - Encoding.UTF8.GetByteCount(text[..(end + 4)]) >= length;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}

/// <summary>
/// A callback network that never lets a packet leave the machine: names resolve to what the test
/// says (else by the real resolver, e.g. <c>localhost</c>), and every connect, whatever address it
/// is for, is recorded and sent to the counting listener on 127.0.0.1. A guard that let a
/// connection through would thus show up both here and in the listener's count.
/// </summary>
public sealed class LoopbackOnlyNetwork(CountingListener listener, Dictionary<string, IPAddress[]>? names = null) : UserQueues.Worker.Delivery.ICallbackNetwork
{
    private readonly ConcurrentQueue<IPEndPoint> _connects = new();

    public IReadOnlyList<IPEndPoint> Connects => [.. _connects];

    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        names is not null && names.TryGetValue(host, out var addresses)
            ? Task.FromResult(addresses)
            : Dns.GetHostAddressesAsync(host, cancellationToken);

    public async ValueTask<Stream> ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        _connects.Enqueue(endPoint);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(listener.EndPoint, cancellationToken);
        return new NetworkStream(socket, ownsSocket: true);
    }
}
