namespace AgentOs.Agents;

/// <summary>
/// How many agents may run at once: per VM (<see cref="AgentOsOptions.MaxSessionsPerVm"/>), on the server
/// (<see cref="AgentOsOptions.MaxLiveAgents"/>), and how many VMs may have one (<see cref="AgentOsOptions.MaxActiveVms"/>).
/// An agent takes a lease before it is spawned and gives it back when it has exited; a start past a bound is refused
/// with <see cref="AgentOsErrorCode.QuotaExceeded"/> naming the option. Thread-safe.
/// </summary>
internal sealed class AgentQuotas(Microsoft.Extensions.Options.IOptions<AgentOsOptions> options)
{
    private readonly object _lock = new();
    private readonly Dictionary<string, int> _perVm = new(StringComparer.Ordinal);
    private int _total;

    private AgentOsOptions Options => options.Value;

    /// <summary>Refuses at once what <see cref="Take"/> would refuse now (before a session row is written).</summary>
    public void EnsureRoom(string vmId)
    {
        lock (_lock)
        {
            Check(vmId);
        }
    }

    /// <summary>A lease for one agent of <paramref name="vmId"/>; dispose it once the agent has exited.</summary>
    public IDisposable Take(string vmId)
    {
        lock (_lock)
        {
            Check(vmId);
            _perVm[vmId] = _perVm.GetValueOrDefault(vmId) + 1;
            _total++;
        }

        return new Lease(this, vmId);
    }

    private void Check(string vmId)
    {
        var inVm = _perVm.GetValueOrDefault(vmId);
        if (inVm >= Options.MaxSessionsPerVm)
        {
            throw Refused($"VM '{vmId}' has {inVm} live sessions, the most AgentOs:MaxSessionsPerVm allows ({Options.MaxSessionsPerVm}). Close one (CloseSession) or let the VM sleep first.");
        }

        if (_total >= Options.MaxLiveAgents)
        {
            throw Refused($"The server runs {_total} agents, the most AgentOs:MaxLiveAgents allows ({Options.MaxLiveAgents}). Try again when a session has closed or slept.");
        }

        if (inVm == 0 && _perVm.Count >= Options.MaxActiveVms)
        {
            throw Refused($"{_perVm.Count} VMs have live agents, the most AgentOs:MaxActiveVms allows ({Options.MaxActiveVms}); VM '{vmId}' would be one more. Try again when a VM has slept.");
        }
    }

    /// <summary>How many agents of <paramref name="vmId"/> hold a lease now (live sessions, those starting included).</summary>
    public int LiveAgents(string vmId)
    {
        lock (_lock)
        {
            return _perVm.GetValueOrDefault(vmId);
        }
    }

    private static AgentOsException Refused(string message) => new(AgentOsErrorCode.QuotaExceeded, message);

    private void Release(string vmId)
    {
        lock (_lock)
        {
            _total--;
            if (--_perVm[vmId] == 0)
            {
                _perVm.Remove(vmId);
            }
        }
    }

    private sealed class Lease(AgentQuotas quotas, string vmId) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                quotas.Release(vmId);
            }
        }
    }
}
