using Microsoft.Extensions.Options;

namespace UserQueues.Worker.Consumers;

/// <summary>The global bound on callbacks in flight in this process (<see cref="WorkerOptions.MaxConcurrentDeliveries"/>).</summary>
internal sealed class DeliveryGate(IOptions<WorkerOptions> options) : IDisposable
{
    private readonly SemaphoreSlim _slots = new(options.Value.MaxConcurrentDeliveries, options.Value.MaxConcurrentDeliveries);

    public Task WaitAsync(CancellationToken cancellationToken) => _slots.WaitAsync(cancellationToken);

    public void Release() => _slots.Release();

    public void Dispose() => _slots.Dispose();
}
