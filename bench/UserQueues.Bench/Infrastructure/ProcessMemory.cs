using System.Globalization;
using System.Text;

namespace UserQueues.Bench.Infrastructure;

/// <summary>Resident memory of the system's processes, read from /proc (Linux only).</summary>
public static class ProcessMemory
{
    /// <summary>
    /// The processes whose executable is <paramref name="name"/> (an apphost, or <c>dotnet name.dll</c>);
    /// with <paramref name="dataDirectory"/>, only those the AppHost of that data folder started
    /// (their <c>Registry__Path</c> lies in it), since other systems may run on this machine.
    /// </summary>
    public static IReadOnlyList<(int Pid, double RssMb)> Find(string name, string? dataDirectory)
    {
        var found = new List<(int, double)>();
        if (!Directory.Exists("/proc"))
        {
            return found;
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var argv = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
                var isIt = argv.Length > 0 && (Path.GetFileName(argv[0]) == name
                    || (Path.GetFileName(argv[0]) == "dotnet" && argv.Length > 1 && Path.GetFileName(argv[1]) == name + ".dll"));
                if (!isIt)
                {
                    continue;
                }

                if (dataDirectory is not null)
                {
                    var environment = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(dir, "environ"))).Split('\0');
                    var registry = environment.FirstOrDefault(e => e.StartsWith("Registry__Path=", StringComparison.Ordinal));
                    if (registry is null || !registry["Registry__Path=".Length..].StartsWith(dataDirectory, StringComparison.Ordinal))
                    {
                        continue;
                    }
                }

                var rssLine = File.ReadLines(Path.Combine(dir, "status")).FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
                if (rssLine is not null)
                {
                    var kb = long.Parse(rssLine.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                    found.Add((pid, kb / 1024.0));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile, or not ours to read.
            }
        }

        return found;
    }

    public static long MemoryTotalMb()
    {
        var line = File.Exists("/proc/meminfo") ? File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) : null;
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }

    public static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
}
