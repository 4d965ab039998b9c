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
    private readonly List<(long Sent, long Latency, int User, int Sequence)> _samples;
    private readonly TaskCompletionSource _complete = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DeliveryTracker(string name, int users, int expected)
    {
        Name = name;
        Expected = expected;
        _lastSequence = Enumerable.Repeat(-1, users).ToArray();
        _latencies = new List<long>(expected);
        _samples = new(expected);
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
            _samples.Add((sentTimestamp, now - sentTimestamp, user, sequence));
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

    /// <summary>
    /// When the slowest 1 % of the messages were sent, counted from the first send: clustered in a
    /// moment (a stall somewhere) or spread over the run (queueing). Null with fewer than 100.
    /// </summary>
    public string? SlowestNote()
    {
        lock (_lock)
        {
            if (_samples.Count < 100)
            {
                return null;
            }

            var first = _samples.Min(x => x.Sent);
            var slowest = _samples.OrderByDescending(x => x.Latency).Take(_samples.Count / 100).ToArray();
            var at = slowest.Select(x => LatencySummary.Ms(x.Sent - first) / 1000).Order().ToArray();
            var worst = slowest[0];
            return $"slowest 1 % ({slowest.Length:N0}, ≥ {LatencySummary.Ms(slowest[^1].Latency):N0} ms) sent +{at[0]:0.0} to +{at[^1]:0.0} s "
                + $"after the first send (median +{at[at.Length / 2]:0.0} s); the slowest: user {worst.User}'s message {worst.Sequence}, sent +{LatencySummary.Ms(worst.Sent - first) / 1000:0.0} s";
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
