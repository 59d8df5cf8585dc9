namespace AgentOs.Sandbox;

/// <summary>
/// The live <see cref="VmNetwork"/>s, one per VM that has a running agent: the first agent of a VM makes it
/// (about 15 ms), the others join it, and it goes when the VM's last agent has exited. Agents of one VM share
/// its loopback, as processes of one machine do; agents of two VMs share nothing.
/// </summary>
internal sealed class VmNetworks(NetworkTools tools, IReadOnlyCollection<int> allowedHostPorts) : IAsyncDisposable
{
    private readonly Dictionary<string, Entry> _live = new(StringComparer.Ordinal);

    public NetworkTools Tools => tools;

    /// <summary>A share of <paramref name="vmRoot"/>'s network; dispose it when the agent has exited.</summary>
    public async Task<Lease> AcquireAsync(string vmRoot, CancellationToken cancellationToken)
    {
        Entry entry;
        lock (_live)
        {
            if (!_live.TryGetValue(vmRoot, out entry!))
            {
                entry = new Entry(VmNetwork.CreateAsync(tools, NetworkRules.Build(allowedHostPorts, NetworkRules.HostAddresses()), CancellationToken.None));
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
        List<Entry> entries;
        lock (_live)
        {
            entries = [.. _live.Values];
            _live.Clear();
        }

        foreach (var entry in entries)
        {
            await DisposeNetworkAsync(entry).ConfigureAwait(false);
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

        await DisposeNetworkAsync(entry).ConfigureAwait(false);
    }

    private static async ValueTask DisposeNetworkAsync(Entry entry)
    {
        try
        {
            await (await entry.Network.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
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
