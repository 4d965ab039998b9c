using Spectre.Console;
using UserQueues.Bench;

if (args is ["--help"] or ["-h"])
{
    Console.WriteLine(BenchSettings.Usage);
    return 0;
}

BenchSettings settings;
try
{
    settings = BenchSettings.Parse(args);
}
catch (Exception e) when (e is ArgumentException or FormatException or UriFormatException)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(BenchSettings.Usage);
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

if (Console.IsOutputRedirected)
{
    // A log file or a pipe: wide enough that the table's rows stay one line each.
    AnsiConsole.Profile.Width = 200;
}

HostedSystem? hosted = null;
string? temporaryData = null;
if (settings.Host)
{
    var dataDirectory = settings.DataDirectory ?? (temporaryData = Directory.CreateTempSubdirectory("uq-bench-host-").FullName);
    AnsiConsole.MarkupLine(Markup.Escape($"Starting the AppHost in this process (data folder {dataDirectory})..."));
    hosted = await HostedSystem.StartAsync(dataDirectory, cancel.Token);
    AnsiConsole.MarkupLine(Markup.Escape($"The services' logs: {hosted.LogDirectory}"));
    settings = settings with { Api = hosted.Api, Amqp = hosted.Amqp, DataDirectory = dataDirectory };
}

BenchReport report;
try
{
    AnsiConsole.MarkupLine(Markup.Escape($"Bench run {settings.RunId}: API {settings.Api}, broker {settings.Amqp!.Host}:{settings.Amqp.Port}, groups {string.Join(',', settings.Groups)}"));
    report = await ConsoleOutput.RunWithProgressAsync(settings, hosted?.Worker, cancel.Token);
}
finally
{
    if (hosted is not null)
    {
        await hosted.DisposeAsync();
    }

    if (temporaryData is not null)
    {
        try
        {
            Directory.Delete(temporaryData, recursive: true);
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"Could not delete {temporaryData}: {e.Message}");
        }
    }
}

ConsoleOutput.WriteReport(report);
if (ConsoleOutput.WriteJson(report, settings.ResultsDirectory) is { } path)
{
    AnsiConsole.MarkupLine(Markup.Escape($"Results written to {path}"));
}

return report.Deliveries.Any(d => d.Lost > 0 || d.OrderViolations > 0) ? 1 : 0;
