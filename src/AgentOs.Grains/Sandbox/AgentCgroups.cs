using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace AgentOs.Sandbox;

/// <summary>One agent's limits as enforced: the session's asks, else the server's defaults.</summary>
internal sealed record EnforcedLimits(long MemoryBytes, int Processes, int CpuWeight, double CpuCores = 0)
{
    /// <summary>The least memory an agent may be given: below it not even a runtime starts.</summary>
    public const long MinMemoryBytes = 16L * 1024 * 1024;

    /// <summary>The fewest processes and threads an agent may be given.</summary>
    public const int MinProcesses = 8;

    /// <summary>The CPU weight's range, the kernel's (<c>cpu.weight</c>).</summary>
    public const int MinCpuWeight = 1, MaxCpuWeight = 10_000;

    /// <summary>
    /// The session's <see cref="ResourceLimits"/> over its agent type's over the server's <see cref="AgentOsOptions.AgentLimits"/>, each at
    /// most <see cref="AgentOsOptions.MaxAgentLimits"/> (else <see cref="AgentOsErrorCode.InvalidArgument"/> naming both).
    /// </summary>
    public static EnforcedLimits Resolve(ResourceLimits? asked, ResourceLimits? ofType, AgentOsOptions options)
    {
        var d = options.AgentLimits;
        var max = options.MaxAgentLimits;
        var limits = new EnforcedLimits(
            asked?.MemoryBytes ?? ofType?.MemoryBytes ?? d.MemoryBytes,
            asked?.Processes ?? ofType?.Processes ?? d.Processes,
            asked?.CpuWeight ?? ofType?.CpuWeight ?? d.CpuWeight,
            asked?.CpuCores ?? ofType?.CpuCores ?? d.CpuCores);
        Check(limits.MemoryBytes >= MinMemoryBytes, limits.MemoryBytes <= max.MemoryBytes, "MemoryBytes", limits.MemoryBytes, max.MemoryBytes, $"at least {MinMemoryBytes}");
        Check(limits.Processes >= MinProcesses, limits.Processes <= max.Processes, "Processes", limits.Processes, max.Processes, $"at least {MinProcesses}");
        Check(limits.CpuWeight >= MinCpuWeight, limits.CpuWeight <= max.CpuWeight, "CpuWeight", limits.CpuWeight, max.CpuWeight, $"at least {MinCpuWeight}");
        if (limits.CpuCores < 0 || (max.CpuCores > 0 && (limits.CpuCores == 0 || limits.CpuCores > max.CpuCores)) || double.IsNaN(limits.CpuCores))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument,
                $"CreateSessionOptions.Limits.CpuCores is {limits.CpuCores}; it must be more than 0{(max.CpuCores > 0 ? $" and at most {max.CpuCores}" : "")} (AgentOs:MaxAgentLimits:CpuCores).");
        }

        return limits;
    }

    private static void Check(bool aboveMin, bool belowMax, string name, long value, long max, string min)
    {
        if (!aboveMin || !belowMax)
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument,
                $"CreateSessionOptions.Limits.{name} is {value}; it must be {min} and at most {max} (AgentOs:MaxAgentLimits:{name}).");
        }
    }
}

/// <summary>
/// A cgroup per agent, so that an agent and every process it starts (a <c>setsid</c>, double-forked daemon too: cgroup
/// membership is inherited and cannot be left without write access to the hierarchy, which the sandbox does not
/// give) are limited together and killed together. cgroup v2 where its memory and pids controllers are ours to use
/// (<c>/sys/fs/cgroup</c>, or <c>/sys/fs/cgroup/unified</c> on a hybrid host), else the v1 <c>memory</c>, <c>pids</c>
/// and <c>cpu</c> hierarchies, else nothing (a warning at start names what is not enforced). Every cgroup of this
/// server lives under <c>agentos/&lt;instance&gt;</c> (the instance a hash of the data directory), so the next server on
/// the same data directory finds and kills what a killed one left.
/// </summary>
internal sealed partial class AgentCgroups : IDisposable
{
    private static readonly string[] V1Controllers = ["memory", "pids", "cpu", "cpuacct"];

    private readonly ILogger _logger;
    private readonly IReadOnlyList<string> _parents;
    private int _counter;

    private AgentCgroups(int version, IReadOnlyList<string> parents, string why, ILogger logger)
    {
        Version = version;
        _parents = parents;
        Why = why;
        _logger = logger;
    }

    /// <summary>2 or 1 (the cgroup version in use), 0 when limits are not enforced.</summary>
    public int Version { get; }

    /// <summary>What is enforced and how, or why nothing is, for the start log.</summary>
    public string Why { get; }

    /// <param name="dataDirectory">The server's data directory (its cgroups' instance name is a hash of it).</param>
    /// <param name="root">Where the cgroup file system is mounted (<see cref="AgentOsOptions.CgroupRoot"/>).</param>
    /// <param name="logger">Where swept leftovers are logged.</param>
    public static AgentCgroups Detect(string dataDirectory, string root, ILogger logger)
    {
        var instance = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(dataDirectory))))[..12];
        if (!OperatingSystem.IsLinux())
        {
            return new AgentCgroups(0, [], "cgroups are Linux's", logger);
        }

        foreach (var v2 in new[] { root, Path.Combine(root, "unified") })
        {
            var controllers = Path.Combine(v2, "cgroup.controllers");
            if (File.Exists(controllers) && File.ReadAllText(controllers).Split(' ', StringSplitOptions.TrimEntries) is var available
                && available.Contains("memory") && available.Contains("pids") && TryMakeV2Parent(v2, available.Contains("cpu"), instance) is { } parent)
            {
                return new AgentCgroups(2, [parent], $"cgroup v2 at {parent}", logger);
            }
        }

        var v1 = V1Controllers.Select(c => Path.Combine(root, c)).ToList();
        if (v1.Take(2).All(Directory.Exists))
        {
            try
            {
                var parents = v1.Where(Directory.Exists).Select(c => Path.Combine(c, "agentos", instance)).ToList();
                parents.ForEach(p => Directory.CreateDirectory(p));
                return new AgentCgroups(1, parents, $"cgroup v1 ({string.Join(", ", parents)})", logger);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return new AgentCgroups(0, [], $"the cgroup v1 hierarchies are not writable ({ex.Message})", logger);
            }
        }

        return new AgentCgroups(0, [], $"no writable cgroup hierarchy with the memory and pids controllers under {root} (AgentOs:CgroupRoot)", logger);
    }

    private static string? TryMakeV2Parent(string root, bool cpu, string instance)
    {
        try
        {
            var controllers = cpu ? "+memory +pids +cpu" : "+memory +pids";
            var agentos = Path.Combine(root, "agentos");
            var parent = Path.Combine(agentos, instance);
            File.WriteAllText(Path.Combine(root, "cgroup.subtree_control"), controllers);
            Directory.CreateDirectory(parent);
            File.WriteAllText(Path.Combine(agentos, "cgroup.subtree_control"), controllers);
            File.WriteAllText(Path.Combine(parent, "cgroup.subtree_control"), controllers);
            return parent;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>A cgroup for one agent with <paramref name="limits"/> written; null when limits are not enforced.</summary>
    public AgentCgroup? Create(string sessionId, EnforcedLimits limits)
    {
        if (Version == 0)
        {
            return null;
        }

        var name = $"{sessionId}-{Interlocked.Increment(ref _counter)}";
        var dirs = _parents.Select(p => Path.Combine(p, name)).ToList();
        foreach (var dir in dirs)
        {
            Directory.CreateDirectory(dir);
        }

        var cgroup = new AgentCgroup(Version, dirs, limits, _logger);
        cgroup.WriteLimits();
        return cgroup;
    }

    /// <summary>At start: kills what agents of a killed server on this data directory left, and removes their cgroups.</summary>
    public async Task SweepAsync()
    {
        var leftovers = _parents.SelectMany(p => Directory.Exists(p) ? Directory.GetDirectories(p) : []).ToList();
        foreach (var group in leftovers.GroupBy(Path.GetFileName))
        {
            var cgroup = new AgentCgroup(Version, group.ToList(), null, _logger);
            var killed = await cgroup.KillAllAsync().ConfigureAwait(false);
            await cgroup.DisposeAsync().ConfigureAwait(false);
            LogSwept(_logger, group.Key!, killed);
        }
    }

    /// <summary>At a clean stop (every agent gone): removes this server's parent cgroups, which are empty by then.</summary>
    public void Dispose()
    {
        foreach (var parent in _parents)
        {
            try
            {
                Directory.Delete(parent);
                Directory.Delete(Path.GetDirectoryName(parent)!); // agentos/, when no other server uses it
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>
    /// The agent's launch, started confined: a shell that moves itself into <paramref name="cgroup"/> (every hierarchy),
    /// raises its OOM score to 1000 (the kernel kills an agent before the server), then execs the launch under
    /// <c>prlimit</c>: no core dumps, no file larger than <paramref name="diskQuota"/> (when there is one), and, without a
    /// cgroup, each process's data segment at the memory limit (<c>RLIMIT_DATA</c>, the only memory rlimit that runtimes
    /// reserving large address ranges, such as .NET's and Node's, survive). Nothing of the agent runs before it is confined.
    /// </summary>
    public static AgentLaunch Wrap(AgentLaunch launch, AgentCgroup? cgroup, EnforcedLimits limits, long diskQuota)
    {
        var enter = cgroup is null ? "" : string.Join(" && ", cgroup.Dirs.Select(d => $"echo $$ > '{Path.Combine(d, "cgroup.procs")}'")) + " && ";
        var rlimits = new List<string> { "--core=0" };
        if (diskQuota > 0)
        {
            rlimits.Add(string.Create(CultureInfo.InvariantCulture, $"--fsize={diskQuota}"));
        }

        if (cgroup is null)
        {
            rlimits.Add(string.Create(CultureInfo.InvariantCulture, $"--data={limits.MemoryBytes}"));
        }

        var script = $"{enter}echo 1000 > /proc/self/oom_score_adj && exec {Prlimit} {string.Join(' ', rlimits)} -- \"$@\"";
        return launch with { Command = "/bin/sh", Args = ["-c", script, "agentos-launch", launch.Command, .. launch.Args] };
    }

    /// <summary>util-linux's <c>prlimit</c>, which every Linux with bubblewrap has (looked up once, not per agent).</summary>
    private static readonly string Prlimit = File.Exists("/usr/bin/prlimit") ? "/usr/bin/prlimit" : "prlimit";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Killed {Count} processes left in the cgroup {Name} by a server that did not stop cleanly, and removed it")]
    private static partial void LogSwept(ILogger logger, string name, int count);
}

/// <summary>One agent's cgroup (one directory per hierarchy with v1): its limits, its counters, and the kill of all in it.</summary>
internal sealed partial class AgentCgroup : IAsyncDisposable
{
    private readonly int _version;
    private readonly ILogger _logger;
    private int _disposed;

    public AgentCgroup(int version, IReadOnlyList<string> dirs, EnforcedLimits? limits, ILogger logger)
    {
        _version = version;
        Dirs = dirs;
        Limits = limits;
        _logger = logger;
    }

    public IReadOnlyList<string> Dirs { get; }

    public EnforcedLimits? Limits { get; }

    /// <summary>
    /// A cgroup inside this one (a terminal of the agent): no limits of its own, so it shares this one's (the kernel charges a
    /// child's use to its parents), and it can be killed alone. Killing or removing this one takes it along.
    /// </summary>
    public AgentCgroup CreateChild(string name)
    {
        var dirs = Dirs.Select(d => Path.Combine(d, name)).ToList();
        foreach (var dir in dirs)
        {
            Directory.CreateDirectory(dir);
        }

        return new AgentCgroup(_version, dirs, null, _logger);
    }

    private string Controller(string name) => _version == 2 ? Dirs[0] : Dirs.FirstOrDefault(d => d.Contains($"/{name}/", StringComparison.Ordinal)) ?? Dirs[0];

    public void WriteLimits()
    {
        var l = Limits!;
        var bytes = l.MemoryBytes.ToString(CultureInfo.InvariantCulture);
        if (_version == 2)
        {
            Write(Dirs[0], "memory.max", bytes);
            TryWrite(Dirs[0], "memory.swap.max", "0");
            Write(Dirs[0], "pids.max", l.Processes.ToString(CultureInfo.InvariantCulture));
            TryWrite(Dirs[0], "cpu.weight", l.CpuWeight.ToString(CultureInfo.InvariantCulture));
            if (l.CpuCores > 0)
            {
                Write(Dirs[0], "cpu.max", $"{QuotaMicros(l.CpuCores)} {CpuPeriodMicros}");
            }

            return;
        }

        Write(Controller("memory"), "memory.limit_in_bytes", bytes);
        TryWrite(Controller("memory"), "memory.memsw.limit_in_bytes", bytes); // memory + swap = memory: no swap
        Write(Controller("pids"), "pids.max", l.Processes.ToString(CultureInfo.InvariantCulture));
        TryWrite(Controller("cpu"), "cpu.shares", Math.Max(2, l.CpuWeight * 1024 / 100).ToString(CultureInfo.InvariantCulture));
        if (l.CpuCores > 0)
        {
            Write(Controller("cpu"), "cpu.cfs_period_us", CpuPeriodMicros.ToString(CultureInfo.InvariantCulture));
            Write(Controller("cpu"), "cpu.cfs_quota_us", QuotaMicros(l.CpuCores).ToString(CultureInfo.InvariantCulture));
        }
    }

    private const int CpuPeriodMicros = 100_000;

    /// <summary>The quota per 100 ms period, at least the kernel's 1 ms.</summary>
    private static long QuotaMicros(double cores) => Math.Max(1000, (long)(cores * CpuPeriodMicros));

    /// <summary>How many of its processes the kernel's OOM killer took at the memory limit.</summary>
    public long OomKills => Counter(Controller("memory"), _version == 2 ? "memory.events" : "memory.oom_control", "oom_kill");

    /// <summary>Memory charged now, CPU time so far, processes now.</summary>
    public (long Memory, TimeSpan Cpu, int Processes) Usage()
    {
        var memory = ReadLong(Controller("memory"), _version == 2 ? "memory.current" : "memory.usage_in_bytes");
        var processes = (int)ReadLong(Controller("pids"), "pids.current");
        var cpu = _version == 2
            ? TimeSpan.FromMicroseconds(Counter(Dirs[0], "cpu.stat", "usage_usec"))
            : TimeSpan.FromTicks(ReadLong(Controller("cpuacct"), "cpuacct.usage") / 100); // nanoseconds
        return (memory, cpu, processes);
    }

    private static long ReadLong(string dir, string file)
    {
        try
        {
            return long.TryParse(File.ReadAllText(Path.Combine(dir, file)).Trim(), CultureInfo.InvariantCulture, out var value) ? value : 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>How many forks <c>pids.max</c> refused.</summary>
    public long ForksRefused => Counter(Controller("pids"), "pids.events", "max");

    /// <summary>Kills every process in the cgroup (v2: <c>cgroup.kill</c>; v1: each pid, until none is left). Returns how many were found.</summary>
    public async Task<int> KillAllAsync()
    {
        var found = 0;
        if (_version == 2 && TryWrite(Dirs[0], "cgroup.kill", "1"))
        {
            return Pids().Count;
        }

        // v1: pids.max bounds how fast it can refill; a few rounds empty it.
        for (var round = 0; round < 100; round++)
        {
            var pids = Pids();
            if (pids.Count == 0)
            {
                break;
            }

            found += pids.Count;
            foreach (var pid in pids)
            {
                _ = Signals.Send(pid, Signals.Kill);
            }

            await Task.Delay(round < 10 ? 1 : 10).ConfigureAwait(false); // until the kernel has taken them out
        }

        return found;
    }

    /// <summary>The processes in this cgroup and in the ones inside it.</summary>
    private List<int> Pids()
    {
        var pids = new HashSet<int>();
        foreach (var dir in Dirs.SelectMany(WithChildren))
        {
            try
            {
                foreach (var line in File.ReadAllLines(Path.Combine(dir, "cgroup.procs")))
                {
                    if (int.TryParse(line, CultureInfo.InvariantCulture, out var pid))
                    {
                        pids.Add(pid);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }

        return [.. pids];
    }

    /// <summary>Kills what is left and removes the cgroup (a cgroup is removed once empty; its exited processes may take a moment to leave).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        var left = await KillAllAsync().ConfigureAwait(false);
        if (left > 0)
        {
            LogKilledDescendants(_logger, left, Path.GetFileName(Dirs[0]));
        }

        // The cgroups inside it first (its terminals'), deepest first: a cgroup with children cannot be removed.
        foreach (var dir in Dirs.SelectMany(WithChildren).Reverse())
        {
            for (var attempt = 0; attempt < 50 && Directory.Exists(dir); attempt++)
            {
                try
                {
                    Directory.Delete(dir);
                }
                catch (IOException)
                {
                    await Task.Delay(20).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary><paramref name="dir"/>, then every cgroup inside it, parents before children.</summary>
    private static IEnumerable<string> WithChildren(string dir)
    {
        yield return dir;
        string[] children;
        try
        {
            children = Directory.GetDirectories(dir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            yield break;
        }

        foreach (var child in children.SelectMany(WithChildren))
        {
            yield return child;
        }
    }

    private static long Counter(string dir, string file, string key)
    {
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(dir, file)))
            {
                var parts = line.Split(' ', 2);
                if (parts.Length == 2 && parts[0] == key && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var value))
                {
                    return value;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return 0;
    }

    private static void Write(string dir, string file, string value) => File.WriteAllText(Path.Combine(dir, file), value);

    private static bool TryWrite(string dir, string file, string value)
    {
        try
        {
            Write(dir, file, value);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Killed {Count} processes the agent left behind in its cgroup {Name}")]
    private static partial void LogKilledDescendants(ILogger logger, int count, string name);
}
