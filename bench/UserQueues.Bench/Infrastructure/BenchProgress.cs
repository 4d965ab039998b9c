namespace UserQueues.Bench.Infrastructure;

/// <summary>Where scenarios report progress: a Spectre.Console display in the console, nothing in tests.</summary>
public interface IBenchProgress
{
    IProgressStep Begin(string description, double total);
}

public interface IProgressStep : IDisposable
{
    void Increment(double amount = 1);
}

public sealed class NoProgress : IBenchProgress
{
    public static readonly NoProgress Instance = new();

    public IProgressStep Begin(string description, double total) => new NoStep();

    private sealed class NoStep : IProgressStep
    {
        public void Increment(double amount = 1)
        {
        }

        public void Dispose()
        {
        }
    }
}
