using System.Diagnostics;
using System.Globalization;
using AgentOs.Layout;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace AgentOs.Sandbox;

/// <summary>
/// Each VM's own unprivileged host user, for a server that runs as root: sandboxed agents of the VM run as that uid (and a
/// gid of the same number), so nothing an agent makes is root's on the host, an agent reads only what any unprivileged
/// user could of what is bound into its sandbox, and an agent that escaped its sandbox still could not touch another VM's
/// files. The VM's home belongs to its user, and that is the record of which uid is whose: a home owned by a uid of the
/// range keeps it, any other (a new VM, a VM from before this, a changed range) gets the next one and the home is handed
/// over, with what the server's user had put in it (<see cref="FileOwners.Adopt"/>).
/// <para>
/// The mechanism is bubblewrap's <c>--userns</c>: a user namespace per VM, made as the VM's uid (so it is that uid's
/// namespace), with the map the server (root) writes: <c>1000 → the VM's uid</c> (the agent) and <c>65534 → root</c>.
/// bwrap starts as the VM's uid, joins it and holds every capability there until the agent runs; root's files being mapped
/// in it, it can bind the VM's home and software out of the server's 0700 data directory, then drops every capability
/// (no new privileges, every mount nosuid). Every process of the sandbox, bwrap's own included, is the VM's uid on the host,
/// so bwrap's <c>--die-with-parent</c> may signal them. bwrap's <c>--disable-userns</c> needs a namespace bwrap made itself,
/// so nested user namespaces are refused by the seccomp filter instead.
/// </para>
/// </summary>
internal sealed partial class VmUsers : IAsyncDisposable
{
    /// <summary>The agent's uid inside its sandbox.</summary>
    public const int SandboxUid = 1000;

    /// <summary>Where the host's root appears inside the sandbox: nobody.</summary>
    private const int RootInside = 65534;

    private readonly VmShares<VmUser> _live = new();
    private readonly uint _first;
    private readonly uint _count;
    private readonly string _unshare;
    private readonly ILogger _logger;
    private long _next;

    private VmUsers(uint first, uint count, string unshare, string setpriv, long next, ILogger logger)
    {
        _first = first;
        _count = count;
        _unshare = unshare;
        Setpriv = setpriv;
        _next = next;
        _logger = logger;
    }

    /// <summary>util-linux's setpriv, which makes bwrap and the namespace's maker the VM's uid, with no supplementary groups.</summary>
    public string Setpriv { get; }

    /// <summary>The VMs' users, the next uid to give found from the homes that exist; null when the server is not root or the tools are missing (the reason is logged).</summary>
    public static VmUsers? Create(AgentOsOptions options, ILogger logger)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Log.NotRoot(logger, FileOwners.Server.Uid);
            return null;
        }

        var unshare = SandboxSelector.FindOnPath("unshare");
        var setpriv = SandboxSelector.FindOnPath("setpriv");
        if (unshare is null || setpriv is null)
        {
            throw new InvalidOperationException("The server runs as root, so each VM's agents run as a uid of its own, which needs util-linux's unshare and setpriv (apt-get install util-linux); they were not found on PATH.");
        }

        var next = (long)options.SandboxFirstUid;
        var vms = Path.Combine(options.DataDirectoryFullPath, "vms");
        if (Directory.Exists(vms))
        {
            foreach (var vm in Directory.EnumerateDirectories(vms))
            {
                try
                {
                    var uid = FileOwners.Of(Path.Combine(vm, "home")).Uid;
                    if (uid >= options.SandboxFirstUid && uid - options.SandboxFirstUid < options.SandboxUidCount)
                    {
                        next = Math.Max(next, uid + 1L);
                    }
                }
                catch (IOException)
                {
                    // no home yet
                }
            }
        }

        return new VmUsers(options.SandboxFirstUid, options.SandboxUidCount, unshare, setpriv, next, logger);
    }

    /// <summary>A share of the VM's user (made, with its home handed over, for the VM's first live agent); dispose it once the agent has exited.</summary>
    public Task<VmShares<VmUser>.Share> AcquireAsync(VmPaths paths, CancellationToken cancellationToken) =>
        _live.AcquireAsync(paths.Root, () => Task.Run(() => MakeAsync(paths.HostHome)), cancellationToken);

    /// <summary>A user namespace for a throw-away uid (the first of the range), for the start-up probe.</summary>
    public Task<VmUser> ProbeUserAsync() => VmUser.CreateAsync(_unshare, Setpriv, new FileOwner(_first, _first));

    public ValueTask DisposeAsync() => _live.DisposeAsync();

    private async Task<VmUser> MakeAsync(string home)
    {
        var owner = Claim(home);
        return await VmUser.CreateAsync(_unshare, Setpriv, owner).ConfigureAwait(false);
    }

    /// <summary>The VM's user: its home's owner when that is a uid of the range, else the next uid, given the home.</summary>
    private FileOwner Claim(string home)
    {
        PrivateFiles.CreateDirectory(home);
        var current = FileOwners.Of(home).Uid;
        var stopwatch = Stopwatch.StartNew();
        FileOwner owner;
        uint[] from;
        if (current >= _first && current - _first < _count)
        {
            owner = new FileOwner(current, current);
            from = [FileOwners.Server.Uid]; // what an operator or the server's user put there since
        }
        else
        {
            var next = Interlocked.Increment(ref _next) - 1;
            if (next - _first >= _count)
            {
                throw new AgentOsException(AgentOsErrorCode.QuotaExceeded,
                    $"Every uid of AgentOs:SandboxFirstUid ({_first}) and AgentOs:SandboxUidCount ({_count}) is some VM's; give the VMs a larger range.");
            }

            owner = new FileOwner((uint)next, (uint)next);
            from = current == FileOwners.Server.Uid ? [current] : [current, FileOwners.Server.Uid];
        }

        var changed = FileOwners.Adopt(home, owner, from);
        if (changed > 0)
        {
            Log.Adopted(_logger, home, changed, owner.Uid, stopwatch.Elapsed.TotalMilliseconds);
        }

        return owner;
    }

    /// <summary>The arguments of setpriv that make the rest of its command line the VM's uid and gid, with no other group.</summary>
    public static string[] BecomeArgs(FileOwner owner) =>
        [string.Create(CultureInfo.InvariantCulture, $"--reuid={owner.Uid}"), string.Create(CultureInfo.InvariantCulture, $"--regid={owner.Gid}"), "--clear-groups", "--"];

    /// <summary>The map of a VM's user namespace: the agent (1000) is the VM's uid, the host's root is nobody.</summary>
    internal static string Map(uint vm, uint root) =>
        string.Create(CultureInfo.InvariantCulture, $"{RootInside} {root} 1\n{SandboxUid} {vm} 1\n");

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "The server does not run as root (uid {Uid}): sandboxed agents run as its own user. Run it as root to give each VM an unprivileged uid of its own, or as a dedicated unprivileged user.")]
        public static partial void NotRoot(ILogger logger, uint uid);

        [LoggerMessage(Level = LogLevel.Information, Message = "Gave {Count} entries of {Home} to the VM's uid {Uid} in {Milliseconds:F1} ms")]
        public static partial void Adopted(ILogger logger, string home, int count, uint uid, double milliseconds);
    }
}

/// <summary>
/// One VM's user: its uid and gid on the host and its user namespace, held open by the server; the launcher opens it at
/// <see cref="NamespacePath"/> for bwrap's <c>--userns</c>. The namespace is made by a short-lived <c>unshare --user</c>
/// run as the VM's uid, whose maps the server (root) writes; it exits once the handle is taken.
/// </summary>
internal sealed class VmUser : IAsyncDisposable
{
    private readonly SafeFileHandle _namespace;

    private VmUser(FileOwner owner, SafeFileHandle userNamespace)
    {
        Owner = owner;
        _namespace = userNamespace;
    }

    public FileOwner Owner { get; }

    /// <summary>The namespace, as a path any root process can open while the server holds it.</summary>
    public string NamespacePath => string.Create(CultureInfo.InvariantCulture, $"/proc/{Environment.ProcessId}/fd/{_namespace.DangerousGetHandle()}");

    public static async Task<VmUser> CreateAsync(string unshare, string setpriv, FileOwner owner)
    {
        using var process = await HelperProcess.StartAsync(setpriv, [.. VmUsers.BecomeArgs(owner), unshare, "--user", "--", "/bin/sh", "-c", "echo ready && read line"]).ConfigureAwait(false);
        try
        {
            await HelperProcess.WaitReadyAsync($"{unshare} --user as uid {owner.Uid}", process,
                async () => await process.StandardOutput.ReadLineAsync().ConfigureAwait(false) == "ready",
                detail => $"The VM's user namespace could not be made: {detail}.", CancellationToken.None).ConfigureAwait(false);
            var proc = string.Create(CultureInfo.InvariantCulture, $"/proc/{process.Id}");
            WriteOnce(proc + "/setgroups", "deny"); // no process inside may take on other groups
            WriteOnce(proc + "/uid_map", VmUsers.Map(owner.Uid, FileOwners.Server.Uid));
            WriteOnce(proc + "/gid_map", VmUsers.Map(owner.Gid, FileOwners.Server.Gid));
            return new VmUser(owner, File.OpenHandle(proc + "/ns/user"));
        }
        finally
        {
            process.StandardInput.Close(); // read returns; the namespace lives on in the handle
            try
            {
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                HelperProcess.Kill(process);
            }
        }
    }

    /// <summary>One write at offset 0, as the kernel wants a namespace's map written.</summary>
    private static void WriteOnce(string path, string text)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
        RandomAccess.Write(file, System.Text.Encoding.ASCII.GetBytes(text), 0);
    }

    public ValueTask DisposeAsync()
    {
        _namespace.Dispose();
        return ValueTask.CompletedTask;
    }
}
