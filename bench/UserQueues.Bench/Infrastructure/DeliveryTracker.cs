using System.Diagnostics;

namespace UserQueues.Bench.Infrastructure;

/// <summary>
/// Counts the deliveries of one scenario: each message carries its user's index, its sequence
/// number within that user and the Stopwatch timestamp of its send. Checks order per user and
/// duplicates (by message id), and times send → delivery.
/// </summary>
public sealed class DeliveryTracker
{
    private readonly Lock _lock = new();
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly HashSet<(int User, int Sequence)> _delivered = [];
    private readonly int[] _lastSequence;
    private readonly List<long> _latencies;
    private readonly TaskCompletionSource _complete = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DeliveryTracker(string name, int users, int expected)
    {
        Name = name;
        Expected = expected;
        _lastSequence = Enumerable.Repeat(-1, users).ToArray();
        _latencies = new List<long>(expected);
        if (expected == 0)
        {
            _complete.SetResult();
        }
    }

    public string Name { get; }
    public int Expected { get; private set; }
    public int Unique { get; private set; }
    public int Duplicates { get; private set; }
    public int OrderViolations { get; private set; }
    public int Unexpected { get; private set; }
    public long LastDeliveryTimestamp { get; private set; }

    /// <summary>Records one delivery; <paramref name="now"/> is <see cref="Stopwatch.GetTimestamp"/> at arrival.</summary>
    public void Record(string messageId, int user, int sequence, long sentTimestamp, long now)
    {
        lock (_lock)
        {
            if (user < 0 || user >= _lastSequence.Length)
            {
                Unexpected++;
                return;
            }

            if (!_seen.Add(messageId))
            {
                Duplicates++;
                return;
            }

            // First attempts arrive in publish order per user; publish order is sequence order
            // because each user's messages are sent one after the other.
            if (sequence <= _lastSequence[user])
            {
                OrderViolations++;
            }
            else
            {
                _lastSequence[user] = sequence;
            }

            _delivered.Add((user, sequence));
            _latencies.Add(now - sentTimestamp);
            LastDeliveryTimestamp = now;
            Unique++;
            if (Unique >= Expected)
            {
                _complete.TrySetResult();
            }
        }
    }

    /// <summary>
    /// Sends the API refused (or that failed) need not arrive: wait for the others only. One may
    /// arrive all the same (a 503 after the broker had the message): it is counted, not awaited.
    /// </summary>
    public void NotExpected(int count)
    {
        lock (_lock)
        {
            Expected -= count;
            if (Unique >= Expected)
            {
                _complete.TrySetResult();
            }
        }
    }

    public bool WasDelivered(int user, int sequence)
    {
        lock (_lock)
        {
            return _delivered.Contains((user, sequence));
        }
    }

    /// <summary>Waits until every expected message arrived, or the timeout passed; true when complete.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await _complete.Task.WaitAsync(timeout, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    public LatencySummary Latency()
    {
        lock (_lock)
        {
            return LatencySummary.FromTicks(_latencies);
        }
    }
}
