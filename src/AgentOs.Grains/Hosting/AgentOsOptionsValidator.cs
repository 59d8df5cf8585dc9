using AgentOs.Sandbox;
using System.Globalization;
using AgentOs.Sessions;
using Microsoft.Extensions.Options;

namespace AgentOs.Hosting;

/// <summary>
/// Every rule an <see cref="AgentOsOptions"/> value must meet, checked at start (<c>ValidateOnStart</c>): a bad value
/// stops the server with one line per fault naming the key, the value and the rule, instead of failing later, call by call.
/// </summary>
internal sealed class AgentOsOptionsValidator : IValidateOptions<AgentOsOptions>
{
    /// <summary>The longest a timer of .NET can wait (int.MaxValue milliseconds is 24.8 days), rounded down.</summary>
    private static readonly TimeSpan LongestTimer = TimeSpan.FromDays(24);

    public ValidateOptionsResult Validate(string? name, AgentOsOptions o)
    {
        var faults = new List<string>();
        void Check(bool ok, string key, object value, string rule)
        {
            if (!ok)
            {
                faults.Add($"AgentOs:{key} is {Show(value)}; {rule}.");
            }
        }

        void Duration(string key, TimeSpan value, TimeSpan min, TimeSpan max, string example) =>
            Check(value >= min && value <= max, key, value, $"it must be {(min.Ticks <= 1 ? "more than zero" : $"at least {min}")} and at most {max} (e.g. {example})");

        var positive = TimeSpan.FromTicks(1);
        Check(!string.IsNullOrWhiteSpace(o.DataDirectory), "DataDirectory", o.DataDirectory, "it must name a folder");
        Duration("InitializeTimeout", o.InitializeTimeout, positive, TimeSpan.FromHours(1), "00:00:10");
        Duration("NewSessionTimeout", o.NewSessionTimeout, positive, TimeSpan.FromHours(1), "00:00:30");
        Duration("PromptTimeout", o.PromptTimeout, positive, LongestTimer, "00:10:00");
        Duration("RequestTimeout", o.RequestTimeout, positive, LongestTimer, "00:02:00");
        Duration("AgentStopGracePeriod", o.AgentStopGracePeriod, positive, TimeSpan.FromMinutes(10), "00:00:02");
        Duration("VmIdleTimeout", o.VmIdleTimeout, TimeSpan.FromSeconds(1), LongestTimer, "00:15:00");
        Duration("PermissionTimeout", o.PermissionTimeout, positive, AnswerBroker.MaxTimeout, "00:05:00");
        Duration("CancelGracePeriod", o.CancelGracePeriod, positive, TimeSpan.FromHours(1), "00:00:05");
        Duration("ShutdownTimeout", o.ShutdownTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), "00:00:30");
        Duration("StorageRetryTimeout", o.StorageRetryTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1), "00:00:30");
        Check(o.MinFreeDiskBytes >= 0, "MinFreeDiskBytes", o.MinFreeDiskBytes, "it must be zero (off) or more (bytes; default 268435456)");
        Check(o.DatabaseDirectory is null || !string.IsNullOrWhiteSpace(o.DatabaseDirectory), "DatabaseDirectory", o.DatabaseDirectory ?? "", "it must name a folder, or be left out");
        Check(o.MaxEventBytes >= 64 * 1024 && o.MaxEventBytes <= 64L * 1024 * 1024, "MaxEventBytes", o.MaxEventBytes, "it must be at least 65536 and at most 67108864 (bytes; default 1048576)");
        Check(o.MaxFsReadBytes > 0, "MaxFsReadBytes", o.MaxFsReadBytes, "it must be more than zero (bytes; default 10485760)");
        Check(o.MaxTerminalOutputBytes >= 1024 && o.MaxTerminalOutputBytes <= 64 * 1024 * 1024, "MaxTerminalOutputBytes", o.MaxTerminalOutputBytes, "it must be at least 1024 and at most 67108864 (bytes; default 1048576)");
        Check(o.MaxTerminalsPerSession >= 1 && o.MaxTerminalsPerSession <= 1024, "MaxTerminalsPerSession", o.MaxTerminalsPerSession, "it must be 1 to 1024 (default 16)");
        Check(o.MaxPromptLength > 0, "MaxPromptLength", o.MaxPromptLength, "it must be more than zero (characters; default 1000000)");
        Check(o.VmDiskQuota == 0 || o.VmDiskQuota >= 16L * 1024 * 1024, "VmDiskQuota", o.VmDiskQuota, "it must be zero (off) or at least 16777216 (bytes; default 10737418240)");
        Check(!string.IsNullOrWhiteSpace(o.CgroupRoot) && Path.IsPathRooted(o.CgroupRoot), "CgroupRoot", o.CgroupRoot ?? "", "it must be an absolute path (default /sys/fs/cgroup)");
        Check(o.MaxSessionsPerVm >= 1, "MaxSessionsPerVm", o.MaxSessionsPerVm, "it must be at least 1 (default 16)");
        Check(o.MaxLiveAgents >= 1, "MaxLiveAgents", o.MaxLiveAgents, "it must be at least 1 (default 256)");
        Check(o.MaxActiveVms >= 1, "MaxActiveVms", o.MaxActiveVms, "it must be at least 1 (default 256)");
        Check(o.MaxQueuedPrompts >= 0, "MaxQueuedPrompts", o.MaxQueuedPrompts, "it must be zero or more (default 16)");
        Check(Enum.IsDefined(o.Sandbox), "Sandbox", o.Sandbox, "it must be auto, bubblewrap or none");
        Check(Enum.IsDefined(o.Durability), "Durability", o.Durability, "it must be process or power");
        Check(Enum.IsDefined(o.SandboxNetwork), "SandboxNetwork", o.SandboxNetwork, "it must be internet, none or host");
        Check(o.SandboxFirstUid >= 65_536, "SandboxFirstUid", o.SandboxFirstUid, "it must be 65536 or more: the uids below are the host's own users and nobody");
        Check(o.SandboxUidCount >= 1 && (ulong)o.SandboxFirstUid + o.SandboxUidCount <= int.MaxValue, "SandboxUidCount", o.SandboxUidCount,
            $"it must be at least 1, and SandboxFirstUid + SandboxUidCount at most {int.MaxValue} (uids past 2^31 - 1 confuse many tools)");
        foreach (var port in o.SandboxAllowHostPorts.Where(p => p is <= 0 or > 65535))
        {
            Check(false, "SandboxAllowHostPorts", port, "each must be a TCP port number (1 to 65535)");
        }

        foreach (var (key, limits) in new[] { ("AgentLimits", o.AgentLimits), ("MaxAgentLimits", o.MaxAgentLimits) })
        {
            Check(limits.MemoryBytes >= EnforcedLimits.MinMemoryBytes, $"{key}:MemoryBytes", limits.MemoryBytes, $"it must be at least {EnforcedLimits.MinMemoryBytes} (16 MiB)");
            Check(limits.Processes >= EnforcedLimits.MinProcesses, $"{key}:Processes", limits.Processes, $"it must be at least {EnforcedLimits.MinProcesses}");
            Check(limits.CpuWeight is >= EnforcedLimits.MinCpuWeight and <= EnforcedLimits.MaxCpuWeight, $"{key}:CpuWeight", limits.CpuWeight,
                $"it must be {EnforcedLimits.MinCpuWeight} to {EnforcedLimits.MaxCpuWeight}");
            Check(limits.CpuCores >= 0 && !double.IsNaN(limits.CpuCores), $"{key}:CpuCores", limits.CpuCores, "it must be 0 (no quota) or more (cores, e.g. 0.5)");
        }

        Check(o.AgentLimits.MemoryBytes <= o.MaxAgentLimits.MemoryBytes, "AgentLimits:MemoryBytes", o.AgentLimits.MemoryBytes, "it must not be above AgentOs:MaxAgentLimits:MemoryBytes");
        Check(o.AgentLimits.Processes <= o.MaxAgentLimits.Processes, "AgentLimits:Processes", o.AgentLimits.Processes, "it must not be above AgentOs:MaxAgentLimits:Processes");
        foreach (var package in o.Preinstall.Where(n => AgentOs.Software.BuiltInSoftware.Find(n) is null))
        {
            Check(false, "Preinstall", package, $"each must be a software package ({string.Join(", ", AgentOs.Software.BuiltInSoftware.All.Select(p => p.Name))})");
        }

        foreach (var (typeName, type) in o.Agents)
        {
            Check(!string.IsNullOrWhiteSpace(type.Command) || AgentOs.Software.BuiltInSoftware.Find(typeName) is not null, $"Agents:{typeName}:Command", type.Command ?? "",
                "it must name the agent's executable (only a built-in type may leave it out, to add Env alone)");
            var l = type.Limits;
            Check(l.MemoryBytes is null || (l.MemoryBytes >= EnforcedLimits.MinMemoryBytes && l.MemoryBytes <= o.MaxAgentLimits.MemoryBytes), $"Agents:{typeName}:Limits:MemoryBytes", l.MemoryBytes ?? 0,
                $"it must be at least {EnforcedLimits.MinMemoryBytes} and at most AgentOs:MaxAgentLimits:MemoryBytes");
            Check(l.Processes is null || (l.Processes >= EnforcedLimits.MinProcesses && l.Processes <= o.MaxAgentLimits.Processes), $"Agents:{typeName}:Limits:Processes", l.Processes ?? 0,
                $"it must be at least {EnforcedLimits.MinProcesses} and at most AgentOs:MaxAgentLimits:Processes");
            Check(l.CpuWeight is null || (l.CpuWeight >= EnforcedLimits.MinCpuWeight && l.CpuWeight <= o.MaxAgentLimits.CpuWeight), $"Agents:{typeName}:Limits:CpuWeight", l.CpuWeight ?? 0,
                $"it must be {EnforcedLimits.MinCpuWeight} to AgentOs:MaxAgentLimits:CpuWeight");
            foreach (var path in type.ReadOnlyPaths.Where(p => !Path.IsPathFullyQualified(p) || !Path.Exists(p)))
            {
                Check(false, $"Agents:{typeName}:ReadOnlyPaths", path, "each must be an absolute path that exists");
            }
        }

        return faults.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(faults);
    }

    private static string Show(object value) => value switch
    {
        string s => $"'{s}'",
        IFormattable f => $"'{f.ToString(null, CultureInfo.InvariantCulture)}'",
        _ => $"'{value}'",
    };
}
