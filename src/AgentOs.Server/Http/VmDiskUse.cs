using System.Collections.Concurrent;
using AgentOs.Layout;
using Microsoft.Extensions.Options;

namespace AgentOs.Server.Http;

/// <summary>
/// How much disk each VM's home takes, for the VM list: measured from the files (as the disk quota measures them), never
/// through the VM's grain, so a list polled by a console neither wakes a sleeping VM nor keeps an idle one awake. An awake
/// VM's home is measured again when its last measure is over <see cref="MaxAge"/> old; a sleeping VM keeps its last
/// measure (its agents are stopped, its home does not change), and has none until it has been seen awake.
/// </summary>
internal sealed class VmDiskUse(IOptions<AgentOsOptions> options, TimeProvider time)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, Measure> _measures = new(StringComparer.Ordinal);

    /// <summary>The home's size of VM <paramref name="vmId"/>, measured now if it is awake and its measure is stale.</summary>
    public async Task<long?> GetAsync(string vmId, bool awake)
    {
        var now = time.GetUtcNow();
        if (_measures.TryGetValue(vmId, out var known) && (!awake || now - known.At < MaxAge))
        {
            return await known.Bytes;
        }

        if (!awake)
        {
            return null;
        }

        var home = new VmPaths(options.Value.DataDirectory, vmId, databaseDirectory: options.Value.DatabaseDirectory).HostHome;
        var fresh = new Measure(Task.Run(() => HomeQuota.Measure(home)), now);
        // Concurrent lists share one walk of the home.
        var measure = _measures.AddOrUpdate(vmId, fresh, (_, old) => now - old.At < MaxAge ? old : fresh);
        return await measure.Bytes;
    }

    /// <summary>Forgets a destroyed VM.</summary>
    public void Forget(string vmId) => _measures.TryRemove(vmId, out _);

    private sealed record Measure(Task<long> Bytes, DateTimeOffset At);
}
