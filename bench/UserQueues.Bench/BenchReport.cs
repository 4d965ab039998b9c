using System.Text.Json.Serialization;

namespace UserQueues.Bench;

/// <summary>How a result compares with the baseline: a higher or a lower figure is better.</summary>
public enum Better { Higher, Lower }

/// <summary>
/// One measured figure: the system's, the raw baseline's from the same run, and their ratio
/// (system / baseline). <see cref="Status"/> is "ok" or says why there is no figure.
/// </summary>
public sealed record BenchResult(
    string Scenario,
    string Measure,
    string Unit,
    double? Value,
    double? Baseline = null,
    Better Better = Better.Higher,
    string Status = "ok",
    string? Note = null)
{
    public double? Ratio => Value is { } v && Baseline is { } b && b != 0 && !double.IsNaN(v) && !double.IsNaN(b) ? v / b : null;

    public static BenchResult Missing(string scenario, string measure, string status, string? note = null) =>
        new(scenario, measure, "", null, Status: status, Note: note);
}

/// <summary>Correctness of one end-to-end run: the only thing the CI smoke test asserts.</summary>
public sealed record DeliveryCheck(string Scenario, int Sent, int Delivered, int Lost, int Duplicates, int OrderViolations, int SendFailures);

public sealed record MachineInfo(int ProcessorCount, long MemoryTotalMb, string? RabbitMQVersion, string LoadAverageAtStart, string? LoadAverageAtEnd);

/// <summary>What a run writes to <c>bench/results/&lt;date&gt;.json</c>.</summary>
public sealed record BenchReport(
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt,
    MachineInfo Machine,
    BenchSettingsSnapshot Settings,
    IReadOnlyList<BenchResult> Results,
    IReadOnlyList<DeliveryCheck> Deliveries);

public sealed record BenchSettingsSnapshot(
    string Api, int Users, int Messages, int Queues, int ScaleMessages, int SingleChannelDeclares,
    int Concurrency, int PublishChannels, int BrokerChannels, int PayloadBytes, string RunId, string[] Groups)
{
    public static BenchSettingsSnapshot Of(BenchSettings s) => new(
        s.Api.ToString(), s.Users, s.Messages, s.Queues, s.ScaleMessages, s.SingleChannelDeclares,
        s.Concurrency, s.PublishChannels, s.BrokerChannels, s.PayloadBytes, s.RunId, [.. s.Groups]);
}

[JsonSourceGenerationOptions(WriteIndented = true, UseStringEnumConverter = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(BenchReport))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
