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
    private readonly Dictionary<string, Entry> _live = new(StringComparer.Ordinal);
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
    public async Task<Lease> AcquireAsync(string vmRoot, CancellationToken cancellationToken)
    {
        Entry entry;
        lock (_live)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_live.TryGetValue(vmRoot, out entry!))
            {
                entry = new Entry(TakeSpare());
                _live[vmRoot] = entry;
            }

            entry.Users++;
        }

        try
        {
            return new Lease(this, vmRoot, entry, await entry.Network.WaitAsync(cancellationToken).ConfigureAwait(false));
        }
        catch
        {
            await ReleaseAsync(vmRoot, entry).ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<Task<VmNetwork>> networks;
        lock (_live)
        {
            _disposed = true;
            networks = [.. _live.Values.Select(e => e.Network), .. _spare is null ? [] : new[] { _spare }];
            _live.Clear();
            _spare = null;
        }

        foreach (var network in networks)
        {
            await DisposeNetworkAsync(network).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Under the lock: the spare if it came up (else a new one). The next spare is made a moment later, not now:
    /// made at once, its three processes competed for the CPU with the agent start that took this one (+13 ms on
    /// a VM's first CreateSession, 2 cores).
    /// </summary>
    private Task<VmNetwork> TakeSpare()
    {
        var spare = _spare is { IsFaulted: false, IsCanceled: false } ready ? ready : CreateAsync(_tools, _allowedHostPorts);
        _spare = null;
        if (!_replenishing)
        {
            _replenishing = true;
            _ = Task.Delay(ReplenishDelay).ContinueWith(_ => Replenish(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }

        return spare;
    }

    private void Replenish()
    {
        lock (_live)
        {
            _replenishing = false;
            if (!_disposed && _spare is null)
            {
                _spare = CreateAsync(_tools, _allowedHostPorts);
            }
        }
    }

    private async ValueTask ReleaseAsync(string vmRoot, Entry entry)
    {
        lock (_live)
        {
            if (--entry.Users > 0 || !_live.TryGetValue(vmRoot, out var current) || current != entry)
            {
                return;
            }

            _live.Remove(vmRoot);
        }

        await DisposeNetworkAsync(entry.Network).ConfigureAwait(false);
    }

    private static async ValueTask DisposeNetworkAsync(Task<VmNetwork> network)
    {
        try
        {
            await (await network.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
        }
        catch (AgentOsException)
        {
            // it was never made
        }
    }

    internal sealed class Entry(Task<VmNetwork> network)
    {
        public Task<VmNetwork> Network { get; } = network;

        public int Users { get; set; }
    }

    /// <summary>One agent's share of its VM's network.</summary>
    public sealed class Lease : IAsyncDisposable
    {
        private readonly VmNetworks _owner;
        private readonly string _vmRoot;
        private readonly Entry _entry;
        private int _released;

        internal Lease(VmNetworks owner, string vmRoot, Entry entry, VmNetwork network)
        {
            _owner = owner;
            _vmRoot = vmRoot;
            _entry = entry;
            Network = network;
        }

        public VmNetwork Network { get; }

        public ValueTask DisposeAsync() =>
            Interlocked.Exchange(ref _released, 1) == 0 ? _owner.ReleaseAsync(_vmRoot, _entry) : ValueTask.CompletedTask;
    }
}
