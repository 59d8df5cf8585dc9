namespace AgentOs.Sandbox;

/// <summary>
/// The live <see cref="VmNetwork"/>s, one per VM that has a running agent: the first agent of a VM takes it,
/// the others join it, and it goes when the VM's last agent has exited. Agents of one VM share its loopback,
/// as processes of one machine do; agents of two VMs share nothing. One spare network is kept made ahead
/// (the start-up probe's, then one made in the background a second after the spare is taken), so a VM's first
/// agent does not wait the tens of milliseconds three helper processes take to start.
/// </summary>
internal sealed class VmNetworks : IAsyncDisposable
{
    private readonly VmShares<VmNetwork> _live = new();
    private readonly Lock _gate = new();
    private readonly NetworkTools _tools;
    private readonly IReadOnlyCollection<int> _allowedHostPorts;
    private static readonly TimeSpan ReplenishDelay = TimeSpan.FromSeconds(1);

    private Task<VmNetwork>? _spare;
    private bool _replenishing;
    private bool _disposed;

    public VmNetworks(NetworkTools tools, IReadOnlyCollection<int> allowedHostPorts, VmNetwork? spare = null)
    {
        _tools = tools;
        _allowedHostPorts = allowedHostPorts;
        _spare = spare is null ? null : Task.FromResult(spare);
    }

    /// <summary>A new network with the rules as of now (the host's addresses are read each time).</summary>
    public static Task<VmNetwork> CreateAsync(NetworkTools tools, IReadOnlyCollection<int> allowedHostPorts) =>
        VmNetwork.CreateAsync(tools, NetworkRules.Build(allowedHostPorts, NetworkRules.HostAddresses()), CancellationToken.None);

    public NetworkTools Tools => _tools;

    /// <summary>A share of <paramref name="vmRoot"/>'s network; dispose it when the agent has exited.</summary>
    public Task<VmShares<VmNetwork>.Share> AcquireAsync(string vmRoot, CancellationToken cancellationToken) =>
        _live.AcquireAsync(vmRoot, TakeSpare, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        Task<VmNetwork>? spare;
        lock (_gate)
        {
            _disposed = true;
            spare = _spare;
            _spare = null;
        }

        await _live.DisposeAsync().ConfigureAwait(false);
        if (spare is not null)
        {
            await VmShares<VmNetwork>.DisposeValueAsync(spare).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The spare if it came up (else a new one). The next spare is made a moment later, not now:
    /// made at once, its three processes competed for the CPU with the agent start that took this one (+13 ms on
    /// a VM's first CreateSession, 2 cores).
    /// </summary>
    private Task<VmNetwork> TakeSpare()
    {
        lock (_gate)
        {
            var spare = _spare is { IsFaulted: false, IsCanceled: false } ready ? ready : CreateAsync(_tools, _allowedHostPorts);
            _spare = null;
            if (!_replenishing && !_disposed)
            {
                _replenishing = true;
                _ = Task.Delay(ReplenishDelay).ContinueWith(_ => Replenish(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            }

            return spare;
        }
    }

    private void Replenish()
    {
        lock (_gate)
        {
            _replenishing = false;
            if (!_disposed && _spare is null)
            {
                _spare = CreateAsync(_tools, _allowedHostPorts);
            }
        }
    }
}
