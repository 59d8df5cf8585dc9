using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace AgentOs.Layout;

/// <summary>
/// One VM's disk quota (<see cref="AgentOsOptions.VmDiskQuota"/>), enforced by accounting: while the VM has live agents
/// its home is measured again and again (the blocks its files and folders take, symlinks not followed), and an agent
/// whose VM has grown past what it may use is stopped through <see cref="Watch"/>'s callback. What an agent may use is
/// the quota, or, for an agent started when the VM was already over it (so that it can delete files), what the home
/// held at its start plus <see cref="OverQuotaAllowance"/>. Each agent also runs with <c>RLIMIT_FSIZE</c> at the quota,
/// so the kernel refuses any single file larger than the whole quota at once. Accounting (not a filesystem quota or a
/// per-VM image) because it needs no root, no loop device, no quota-enabled mount and no migration of existing homes;
/// its cost is an overshoot of what an agent writes between two measurements, which the server-wide disk reserve
/// (<c>AgentOs:MinFreeDiskBytes</c>) absorbs for the other VMs.
/// </summary>
internal sealed partial class HomeQuota(string vmId, string home, long quota, ILogger logger) : IDisposable
{
    /// <summary>What an agent started over the quota may add to the home: enough to work, not enough to matter.</summary>
    public const long OverQuotaAllowance = 16L * 1024 * 1024;

    private const long Block = 4096;
    private static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(200), MaxInterval = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<Watcher, byte> _watchers = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private Task? _loop;
    private long _used = -1;

    /// <summary>The quota in bytes; 0 when the VM has none.</summary>
    public long Quota => quota;

    /// <summary>The home's size as last measured (measured now when never before).</summary>
    public long Used => Interlocked.Read(ref _used) is var used and >= 0 ? used : MeasureNow();

    /// <summary>The blocks the files and folders under <paramref name="path"/> take (each file rounded up to 4 KiB, each folder 4 KiB).</summary>
    public static long Measure(string path)
    {
        if (!Directory.Exists(path))
        {
            return 0;
        }

        long bytes = 0;
        foreach (var entry in new DirectoryInfo(path).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint }))
        {
            bytes += entry is FileInfo file ? (file.Length + Block - 1) / Block * Block : Block;
        }

        return bytes;
    }

    private long MeasureNow()
    {
        var used = Measure(home);
        Interlocked.Exchange(ref _used, used);
        return used;
    }

    /// <summary>
    /// Watches the home for one agent until disposed: <paramref name="over"/> is called once (on the thread pool) with
    /// the home's size when it passes what the agent may use. Starts the measuring loop with the VM's first agent.
    /// </summary>
    public IDisposable Watch(Action<long> over)
    {
        if (quota <= 0)
        {
            return NoWatch.Instance;
        }

        var used = MeasureNow();
        var watcher = new Watcher(this, used > quota ? used + OverQuotaAllowance : quota, over);
        _watchers[watcher] = 0;
        lock (_gate)
        {
            _loop ??= Task.Run(LoopAsync);
        }

        if (used > quota)
        {
            LogStartedOverQuota(logger, vmId, used / (1024 * 1024), quota / (1024 * 1024));
        }

        return watcher;
    }

    /// <summary>True when writing <paramref name="bytes"/> more would take the home past what every watching agent may use (fs/write_text_file asks).</summary>
    public bool WouldExceed(long bytes, IDisposable watch) =>
        watch is Watcher watcher && Used + bytes > watcher.Allowance;

    /// <summary>The server wrote <paramref name="bytes"/> into the home (fs/write_text_file): counted before the next measurement.</summary>
    public void Grew(long bytes)
    {
        if (Interlocked.Read(ref _used) >= 0)
        {
            Interlocked.Add(ref _used, (bytes + Block - 1) / Block * Block);
        }
    }

    private async Task LoopAsync()
    {
        var interval = MinInterval;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (_watchers.IsEmpty)
            {
                continue;
            }

            var took = Stopwatch.StartNew();
            var used = MeasureNow();
            // A big home is measured less often: the walk costs at most about 5% of one core.
            interval = TimeSpan.FromTicks(Math.Clamp(took.Elapsed.Ticks * 20, MinInterval.Ticks, MaxInterval.Ticks));
            foreach (var watcher in _watchers.Keys)
            {
                if (used > watcher.Allowance && watcher.Trip())
                {
                    LogOverQuota(logger, vmId, used / (1024 * 1024), quota / (1024 * 1024));
                    watcher.Over(used);
                }
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }

    private sealed class Watcher(HomeQuota owner, long allowance, Action<long> over) : IDisposable
    {
        private int _tripped;

        public long Allowance => allowance;

        public Action<long> Over => over;

        public bool Trip() => Interlocked.Exchange(ref _tripped, 1) == 0;

        public void Dispose() => owner._watchers.TryRemove(this, out _);
    }

    private sealed class NoWatch : IDisposable
    {
        public static readonly NoWatch Instance = new();

        public void Dispose()
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {VmId}: its home holds {UsedMiB} MiB, over its disk quota of {QuotaMiB} MiB (AgentOs:VmDiskQuota); stopping the agents that wrote it")]
    private static partial void LogOverQuota(ILogger logger, string vmId, long usedMiB, long quotaMiB);

    [LoggerMessage(Level = LogLevel.Information, Message = "VM {VmId}: an agent starts with the home at {UsedMiB} MiB, over its disk quota of {QuotaMiB} MiB; it may add 16 MiB (to make room)")]
    private static partial void LogStartedOverQuota(ILogger logger, string vmId, long usedMiB, long quotaMiB);
}
