using System.Globalization;
using System.Runtime.InteropServices;

namespace AgentOs.Bench;

/// <summary>What the benchmark ran on.</summary>
internal sealed record MachineInfo(
    int Cores,
    string? CpuModel,
    long MemoryMiB,
    string Os,
    string DotnetRuntime,
    string BenchConfiguration,
    string? LoadAverageAtStart)
{
    public static MachineInfo Collect() => new(
        Environment.ProcessorCount,
        ReadCpuModel(),
        MemTotalKiB() / 1024,
        RuntimeInformation.OSDescription,
        RuntimeInformation.FrameworkDescription,
        Paths.BuildConfiguration,
        LoadAverage());

    /// <summary>The first three fields of /proc/loadavg (1, 5, 15 minutes).</summary>
    public static string? LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return parts.Length >= 3 ? string.Join(' ', parts[..3]) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string? ReadCpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo")
                .FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?
                .Split(':', 2)[1].Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static long MemTotalKiB()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>
    /// User + system CPU time of a process in ms, from /proc/&lt;pid&gt;/stat (clock ticks of 10 ms,
    /// USER_HZ = 100 on Linux), or NaN when it cannot be read.
    /// </summary>
    public static double CpuMs(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // After "pid (comm) ", field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return ticks * 10.0;
        }
        catch (Exception ex) when (ex is IOException or FormatException or IndexOutOfRangeException)
        {
            return double.NaN;
        }
    }

    /// <summary>CPU time of the bench process itself, in ms.</summary>
    public static double OwnCpuMs()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return self.TotalProcessorTime.TotalMilliseconds;
    }

    /// <summary>VmRSS (or another kB field such as RssAnon, RssFile) of a process in MiB (from /proc/&lt;pid&gt;/status), or NaN when it cannot be read.</summary>
    public static double RssMiB(int pid, string field = "VmRSS")
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
            return line is null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }

    /// <summary>
    /// RSS and PSS of a process with all its descendants (the server, its agents, their sandboxes and network helpers),
    /// in MiB: RSS counts shared pages once per process, PSS divides each among the processes that map it.
    /// </summary>
    public static (double Rss, double Pss) TreeMiB(int root)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var ppid = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
                (children.TryGetValue(ppid, out var list) ? list : children[ppid] = []).Add(pid);
            }
            catch (IOException)
            {
            }
        }

        double rss = 0, pss = 0;
        var pending = new Stack<int>([root]);
        while (pending.TryPop(out var pid))
        {
            rss += Rollup(pid, "Rss:");
            pss += Rollup(pid, "Pss:");
            foreach (var child in children.GetValueOrDefault(pid) ?? [])
            {
                pending.Push(child);
            }
        }

        return (rss, pss);
    }

    private static double Rollup(int pid, string field)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/smaps_rollup").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
