using AgentOs.Storage;
using AgentOs.Layout;
using AgentOs.Sandbox;
using AgentOs.Software;
using AgentOs.Vm;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentOs.Hosting;

/// <summary>
/// At start: takes the data directory's lock (one server per data directory), chooses the sandbox (so a missing bubblewrap is said at once, not at the first session)
/// and installs the <see cref="AgentOsOptions.Preinstall"/> packages in the background. The sandbox
/// probe (a throw-away bwrap process) runs while the silo starts; the start completes, or fails,
/// only once it is chosen.
/// </summary>
internal sealed partial class AgentOsStartup(IServiceProvider services, SoftwareInstaller installer, IOptions<AgentOsOptions> options, ILogger<AgentOsStartup> logger) : IHostedLifecycleService
{
    private Task _preinstall = Task.CompletedTask;
    private Task _sandbox = Task.CompletedTask;
    private DataDirectoryLock? _lock;

    /// <summary>Before the silo starts (so before any grain opens a database): the data directory's lock and modes.</summary>
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        var data = options.Value.DataDirectoryFullPath;
        if (PrivateFiles.RestrictDataDirectory(data))
        {
            Log.DataDirectoryRestricted(logger, data);
        }

        _lock = DataDirectoryLock.Acquire(data);
        services.GetRequiredService<DiskReserve>().Start();
        var cgroups = services.GetRequiredService<AgentCgroups>();
        var limits = options.Value.AgentLimits;
        if (cgroups.Version == 0)
        {
            Log.LimitsNotEnforced(logger, cgroups.Why);
        }
        else
        {
            Log.LimitsEnforced(logger, limits.MemoryBytes / (1024 * 1024), limits.Processes, limits.CpuWeight, cgroups.Why);
        }

        // What agents of a killed server on this data directory left behind dies now.
        return cgroups.SweepAsync();
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _sandbox = Task.Run(() => _ = services.GetRequiredService<AgentSandbox>().Name, CancellationToken.None);
        var packages = options.Value.Preinstall.Select(name => BuiltInSoftware.Find(name) ?? throw new InvalidOperationException(
            $"AgentOs:Preinstall names '{name}', which is not a software package (known: {string.Join(", ", BuiltInSoftware.All.Select(p => p.Name))}).")).ToList();
        _preinstall = Task.Run(async () =>
        {
            foreach (var package in packages)
            {
                try
                {
                    await installer.EnsureInstalledAsync(package, CancellationToken.None).ConfigureAwait(false);
                }
                catch (AgentOsException ex)
                {
                    Log.PreinstallFailed(logger, package.Name, ex.Message);
                }
            }
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StartedAsync(CancellationToken cancellationToken) => _sandbox;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// The orderly stop of every VM begins here, before any hosted service stops: an ASP.NET Core server in the same host
    /// would otherwise wait for its requests (a prompt turn: minutes) before the silo's own stop ends them.
    /// </summary>
    public Task StoppingAsync(CancellationToken cancellationToken) => services.GetRequiredService<ServerShutdown>().StopAsync(cancellationToken);

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        _lock?.Dispose();
        return Task.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Agent limits: {MemoryMiB} MiB of memory (no swap), {Processes} processes, CPU weight {CpuWeight} per agent, OOM score 1000, every descendant killed with its agent; {How}")]
        public static partial void LimitsEnforced(ILogger logger, long memoryMiB, int processes, int cpuWeight, string how);

        [LoggerMessage(Level = LogLevel.Warning, Message = "AGENT LIMITS ARE NOT FULLY ENFORCED: {Why}. Each agent process's memory is limited alone (RLIMIT_DATA, not the agent with its children); processes and CPU are not limited; descendants of agents run as host processes (AgentOs:Sandbox none) are not contained")]
        public static partial void LimitsNotEnforced(ILogger logger, string why);

        [LoggerMessage(Level = LogLevel.Warning, Message = "The data directory {DataDirectory} was readable by other users; it is now 0700 (the server's user only)")]
        public static partial void DataDirectoryRestricted(ILogger logger, string dataDirectory);

        [LoggerMessage(Level = LogLevel.Error, Message = "Preinstalling '{Name}' failed; sessions of that type will try again: {Reason}")]
        public static partial void PreinstallFailed(ILogger logger, string name, string reason);
    }
}
