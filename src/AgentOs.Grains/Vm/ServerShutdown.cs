using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace AgentOs.Vm;

/// <summary>What the shutdown asks of each VM, before Orleans deactivates anything. Silo-internal: no client reaches it.</summary>
[Alias("AgentOs.IVmShutdown")]
internal interface IVmShutdown : IGrainWithStringKey
{
    /// <summary>Ends running turns as cancelled (reason <c>server_shutdown</c>), stops every agent with its exit recorded, and flushes the VM's events.</summary>
    [Alias("PrepareForShutdown")]
    Task PrepareForShutdown();
}

/// <summary>
/// The orderly stop on SIGTERM. Orleans would deactivate VMs only once their calls end (a running turn: never, until
/// its own timeout) and would stop the stream queues beside them, so agents died unrecorded and the last events were
/// published to queues already gone. This runs first instead, at the stop of a stage above
/// <see cref="ServiceLifecycleStage.Active"/> (the gateway and the streams still up): new work is refused with
/// <see cref="AgentOsErrorCode.ServerUnavailable"/>, and every active VM ends its turns as cancelled, stops its agents
/// (each <c>agent_exit</c> recorded) and flushes its events, all VMs at once, within <see cref="AgentOsOptions.ShutdownTimeout"/>.
/// </summary>
internal sealed partial class ServerShutdown(IGrainFactory grains, IOptions<AgentOsOptions> options, ILogger<ServerShutdown> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly ConcurrentDictionary<string, byte> _activeVms = new(StringComparer.Ordinal);
    private volatile bool _shuttingDown;
    private Task? _stopping;

    public bool IsShuttingDown => _shuttingDown;

    public void Register(string vmId) => _activeVms[vmId] = 0;

    public void Unregister(string vmId) => _activeVms.TryRemove(vmId, out _);

    /// <summary>Whether VM <paramref name="vmId"/> is active (its grain activated, not asleep) on this silo now.</summary>
    public bool IsActive(string vmId) => _activeVms.ContainsKey(vmId);

    /// <summary>Refuses new work once the shutdown has begun.</summary>
    public void ThrowIfShuttingDown(string what)
    {
        if (_shuttingDown)
        {
            throw new AgentOsException(AgentOsErrorCode.ServerUnavailable, $"{what} is refused: the server is shutting down. Retry against the server once it is back.");
        }
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ServerShutdown), ServiceLifecycleStage.Active + 1, _ => Task.CompletedTask, StopAsync);

    /// <summary>
    /// Begins the orderly stop, once, whoever asks first: the host as it starts stopping (<c>AgentOsStartup.StoppingAsync</c>,
    /// before a web server in the same host waits for its requests, so a request waiting on a turn gets the turn's end and
    /// new work a <see cref="AgentOsErrorCode.ServerUnavailable"/>), or the silo's lifecycle when there is no such host.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_activeVms)
        {
            _stopping ??= StopVmsAsync();
        }

        return _stopping.WaitAsync(cancellationToken);
    }

    private async Task StopVmsAsync()
    {
        _shuttingDown = true;
        var vms = _activeVms.Keys.ToList();
        var clock = Stopwatch.StartNew();
        LogStopping(logger, vms.Count, options.Value.ShutdownTimeout.TotalSeconds);
        var all = Task.WhenAll(vms.Select(async id =>
        {
            try
            {
                await grains.GetGrain<IVmShutdown>(id).PrepareForShutdown().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                LogVmFailed(logger, id, ex);
            }
        }));
        try
        {
            await all.WaitAsync(options.Value.ShutdownTimeout).ConfigureAwait(false);
            LogStopped(logger, vms.Count, clock.ElapsedMilliseconds);
        }
        catch (TimeoutException)
        {
            LogTimedOut(logger, options.Value.ShutdownTimeout.TotalSeconds, vms.Count);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutting down: ending the turns and stopping the agents of {Count} active VMs (at most {Seconds} s, AgentOs:ShutdownTimeout)")]
    private static partial void LogStopping(ILogger logger, int count, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutdown: {Count} VMs stopped their agents and flushed their events in {ElapsedMs} ms")]
    private static partial void LogStopped(ILogger logger, int count, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Shutdown: not every one of {Count} VMs had stopped within {Seconds} s (AgentOs:ShutdownTimeout); Orleans deactivates the rest")]
    private static partial void LogTimedOut(ILogger logger, double seconds, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Shutdown: VM {VmId} could not prepare")]
    private static partial void LogVmFailed(ILogger logger, string vmId, Exception exception);
}
