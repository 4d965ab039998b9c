namespace UserQueues.Messaging;

/// <summary>
/// How often a background snapshot of every queue may run. Such a snapshot (the API's management
/// API call, the worker's passive declares) costs the broker work that grows with the number of
/// queues: at 10,000 queues it takes seconds. Pausing a multiple of its own duration keeps that
/// work a bounded share of the broker's time, whatever the number of queues.
/// </summary>
public static class SnapshotPacing
{
    /// <summary>A snapshot may keep the broker busy at most 1 / <c>DutyFactor</c> of the time.</summary>
    public const int DutyFactor = 5;

    /// <summary>The pause after a snapshot that took <paramref name="took"/>: at least <paramref name="interval"/>.</summary>
    public static TimeSpan PauseAfter(TimeSpan interval, TimeSpan took)
    {
        var proportional = took * (DutyFactor - 1);
        return proportional > interval ? proportional : interval;
    }
}
