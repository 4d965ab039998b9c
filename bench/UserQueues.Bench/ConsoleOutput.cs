using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using UserQueues.Bench.Infrastructure;

namespace UserQueues.Bench;

/// <summary>Spectre.Console: the live progress of each step, then the results table.</summary>
internal static class ConsoleOutput
{
    /// <summary>Relaxed escaping: the file is read by people ("→", "+" as they are), never embedded in HTML.</summary>
    private static readonly JsonSerializerOptions JsonOptions = new(BenchJsonContext.Default.Options)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static Task<BenchReport> RunWithProgressAsync(BenchSettings settings, WorkerControl? worker, CancellationToken cancellationToken) =>
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .StartAsync(context => new BenchRunner(settings, new SpectreProgress(context), worker).RunAsync(cancellationToken));

    public static void WriteReport(BenchReport report)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("UserQueues bench: system vs raw RabbitMQ baseline, same broker, same run");
        table.AddColumns("Scenario", "Measure", "UserQueues", "Baseline", "Ratio", "Note");
        foreach (var r in report.Results)
        {
            var value = r.Status == "ok" || r.Value is not null ? Figure(r.Value, r.Unit) : $"[yellow]{Markup.Escape(r.Status)}[/]";
            var ratio = r.Ratio is { } x ? $"{x:0.00}× ({(r.Better == Better.Higher ? "higher" : "lower")} is better)" : "";
            table.AddRow(Markup.Escape(r.Scenario), Markup.Escape(r.Measure), value, Markup.Escape(Figure(r.Baseline, r.Unit)), ratio, Markup.Escape(r.Note ?? ""));
        }

        AnsiConsole.Write(table);

        var checks = new Table().Border(TableBorder.Rounded).Title("Delivery checks");
        checks.AddColumns("Run", "Sent", "Delivered", "Lost", "Duplicates", "Order violations", "Send failures");
        foreach (var d in report.Deliveries)
        {
            var lost = d.Lost == 0 ? "0" : $"[red]{d.Lost}[/]";
            var order = d.OrderViolations == 0 ? "0" : $"[red]{d.OrderViolations}[/]";
            checks.AddRow(Markup.Escape(d.Scenario), $"{d.Sent:N0}", $"{d.Delivered:N0}", lost, $"{d.Duplicates}", order, $"{d.SendFailures}");
        }

        AnsiConsole.Write(checks);
        var m = report.Machine;
        AnsiConsole.MarkupLine(Markup.Escape($"{m.ProcessorCount} cores, {m.MemoryTotalMb:N0} MB, RabbitMQ {m.RabbitMQVersion}; load average at start {m.LoadAverageAtStart}, at end {m.LoadAverageAtEnd}"));
    }

    public static string? WriteJson(BenchReport report, string? directory)
    {
        if (directory is null)
        {
            return null;
        }

        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, report.StartedAt.ToString("yyyy-MM-dd'T'HHmm'Z'", CultureInfo.InvariantCulture) + ".json");
        File.WriteAllText(path, JsonSerializer.Serialize(report, JsonOptions));
        return path;
    }

    private static string Figure(double? value, string unit) => value switch
    {
        null => "",
        { } v when double.IsNaN(v) => "n/a",
        { } v when Math.Abs(v) >= 100 => $"{v:N0} {unit}",
        { } v => $"{v:0.0##} {unit}",
    };

    private sealed class SpectreProgress(ProgressContext context) : IBenchProgress
    {
        public IProgressStep Begin(string description, double total)
        {
            var task = context.AddTask(Markup.Escape(description), maxValue: Math.Max(1, total));
            return new SpectreStep(task);
        }
    }

    private sealed class SpectreStep(ProgressTask task) : IProgressStep
    {
        public void Increment(double amount = 1) => task.Increment(amount);

        public void Dispose()
        {
            task.Value = task.MaxValue;
            task.StopTask();
        }
    }
}
