namespace AgentOs.Sandbox;

/// <summary>
/// Something each VM with a running agent has one of (its network namespace, its user namespace): the VM's first agent
/// makes it, the others share it, and it is disposed of once the VM's last agent has exited.
/// </summary>
internal sealed class VmShares<T> : IAsyncDisposable where T : class, IAsyncDisposable
{
    private readonly Dictionary<string, Entry> _live = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <summary>A share of <paramref name="vmRoot"/>'s <typeparamref name="T"/>, made by <paramref name="make"/> (under the lock: it only starts the work) when the VM has none.</summary>
    public async Task<Share> AcquireAsync(string vmRoot, Func<Task<T>> make, CancellationToken cancellationToken)
    {
        Entry entry;
        lock (_live)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_live.TryGetValue(vmRoot, out entry!))
            {
                entry = new Entry(make());
                _live[vmRoot] = entry;
            }

            entry.Users++;
        }

        try
        {
            return new Share(this, vmRoot, entry, await entry.Value.WaitAsync(cancellationToken).ConfigureAwait(false));
        }
        catch
        {
            await ReleaseAsync(vmRoot, entry).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Disposes of every live <typeparamref name="T"/> (agents have stopped by then) and refuses new shares.</summary>
    public async ValueTask DisposeAsync()
    {
        List<Task<T>> values;
        lock (_live)
        {
            _disposed = true;
            values = [.. _live.Values.Select(e => e.Value)];
            _live.Clear();
        }

        foreach (var value in values)
        {
            await DisposeValueAsync(value).ConfigureAwait(false);
        }
    }

    /// <summary>Disposes of <paramref name="value"/> once made; one that failed to be made has nothing to dispose of.</summary>
    public static async ValueTask DisposeValueAsync(Task<T> value)
    {
        T made;
        try
        {
            made = await value.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AgentOsException or IOException or InvalidOperationException)
        {
            return; // it was never made
        }

        await made.DisposeAsync().ConfigureAwait(false);
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

        await DisposeValueAsync(entry.Value).ConfigureAwait(false);
    }

    internal sealed class Entry(Task<T> value)
    {
        public Task<T> Value { get; } = value;

        public int Users { get; set; }
    }

    /// <summary>One agent's share; dispose it once the agent has exited.</summary>
    public sealed class Share : IAsyncDisposable
    {
        private readonly VmShares<T> _owner;
        private readonly string _vmRoot;
        private readonly Entry _entry;
        private int _released;

        internal Share(VmShares<T> owner, string vmRoot, Entry entry, T value)
        {
            _owner = owner;
            _vmRoot = vmRoot;
            _entry = entry;
            Value = value;
        }

        public T Value { get; }

        public ValueTask DisposeAsync() =>
            Interlocked.Exchange(ref _released, 1) == 0 ? _owner.ReleaseAsync(_vmRoot, _entry) : ValueTask.CompletedTask;
    }
}
