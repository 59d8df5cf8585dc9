using System.Diagnostics;

namespace AgentOs.Sandbox;

/// <summary>The host programs a VM's own network needs, found once at start.</summary>
internal sealed record NetworkTools(string Setpriv, string Unshare, string Nsenter, string Nft, string Slirp4netns)
{
    private const string Package = "Debian/Ubuntu: apt-get install slirp4netns nftables util-linux";

    /// <summary>The tools, or what is missing.</summary>
    public static (NetworkTools? Tools, string? Missing) Find()
    {
        var found = new[] { "setpriv", "unshare", "nsenter", "nft", "slirp4netns" }.Select(n => (Name: n, Path: SandboxSelector.FindOnPath(n))).ToList();
        var missing = found.Where(f => f.Path is null).Select(f => f.Name).ToList();
        return missing.Count > 0
            ? (null, $"{string.Join(", ", missing)} not found ({Package})")
            : (new NetworkTools(found[0].Path!, found[1].Path!, found[2].Path!, found[3].Path!, found[4].Path!), null);
    }
}

/// <summary>
/// One VM's network namespace, as rootless Podman builds it: a holder process in a new user + network
/// namespace of the server's (it loads <see cref="NetworkRules"/>, then sleeps), and slirp4netns attached
/// to it (a user-mode TCP/IP stack on the host: outbound connections and DNS, in its own sandbox and
/// seccomp filter). Agents join it with nsenter before bwrap builds their sandbox. Both helpers start
/// from the spawn thread with <c>PR_SET_PDEATHSIG</c> (setpriv), with a fixed environment of their own,
/// so they die with the server; <see cref="DisposeAsync"/> kills them.
/// </summary>
internal sealed class VmNetwork : IAsyncDisposable
{
    private static string Failure(string detail) =>
        $"The VM's network namespace could not be set up: {detail}. Set AgentOs:SandboxNetwork to 'none' to run agents without a network.";

    private readonly Process _holder;
    private readonly Process _slirp;

    private VmNetwork(Process holder, Process slirp)
    {
        _holder = holder;
        _slirp = slirp;
    }

    /// <summary>The process whose namespaces agents join.</summary>
    public int HolderPid => _holder.Id;

    /// <summary>
    /// The launcher prefix that runs the rest of the command line inside this network namespace: as the server's user in the
    /// holder's user namespace (which owns it), or, for a launcher that brings a user namespace of its own (<see cref="VmUsers"/>),
    /// with the network namespace alone.
    /// </summary>
    public IReadOnlyList<string> Enter(NetworkTools tools, bool withItsUserNamespace) => withItsUserNamespace
        ? [tools.Nsenter, $"--target={HolderPid}", "--user", "--net", "--preserve-credentials", "--"]
        : [tools.Nsenter, $"--target={HolderPid}", "--net", "--"];

    public static async Task<VmNetwork> CreateAsync(NetworkTools tools, string rules, CancellationToken cancellationToken)
    {
        // The holder: loads the rules (and lets 127.0.0.1 be DNAT-ed to the host gateway), says ready, sleeps.
        var holder = await HelperProcess.StartAsync(tools.Setpriv, ["--pdeathsig", "KILL", "--", tools.Unshare, "--user", "--map-root-user", "--net", "--",
            "/bin/sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet && \"$1\" -f - && echo ready && exec sleep infinity", "agentos-net", tools.Nft]).ConfigureAwait(false);
        await HelperProcess.WaitReadyAsync("the namespace holder (unshare, nft)", holder, async () =>
        {
            await holder.StandardInput.WriteAsync(rules.AsMemory(), cancellationToken).ConfigureAwait(false);
            holder.StandardInput.Close();
            return await holder.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false) == "ready";
        }, Failure, cancellationToken).ConfigureAwait(false);

        // slirp4netns: its ready byte on fd 3 (our stdout pipe); its own chatter goes to stderr.
        Process slirp;
        try
        {
            slirp = await HelperProcess.StartAsync("/bin/sh", ["-c", "exec \"$@\" 3>&1 1>&2", "agentos-slirp", tools.Setpriv, "--pdeathsig", "KILL", "--",
                tools.Slirp4netns, "--configure", "--mtu=65520", "--enable-sandbox", "--enable-seccomp", "--ready-fd=3",
                $"--userns-path=/proc/{holder.Id}/ns/user", "--netns-type=path", $"/proc/{holder.Id}/ns/net", NetworkRules.Interface]).ConfigureAwait(false);
            slirp.StandardInput.Close();
            await HelperProcess.WaitReadyAsync("slirp4netns", slirp, async () =>
            {
                var buffer = new char[1];
                return await slirp.StandardOutput.ReadAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false) == 1 && buffer[0] == '1';
            }, Failure, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            HelperProcess.Kill(holder);
            throw;
        }

        return new VmNetwork(holder, slirp);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in new[] { _slirp, _holder })
        {
            HelperProcess.Kill(process);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            process.Dispose();
        }
    }
}
