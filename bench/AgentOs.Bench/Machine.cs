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

    /// <summary>VmRSS of a process in MiB (from /proc/&lt;pid&gt;/status), or NaN when it cannot be read.</summary>
    public static double RssMiB(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }
}
