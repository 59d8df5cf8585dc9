using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace AgentOs.Sandbox;

/// <summary>
/// Chooses the server's <see cref="AgentSandbox"/> once, from <c>AgentOs:Sandbox</c>: bubblewrap when
/// asked or, under <c>auto</c>, when <c>bwrap</c> is on PATH and a probe sandbox starts; else host
/// processes, logged as a warning. <c>bubblewrap</c> without a working bwrap stops the server.
/// </summary>
internal static partial class SandboxSelector
{
    public static AgentSandbox Select(AgentOsOptions options, ILogger logger)
    {
        if (options.Sandbox == SandboxMode.None)
        {
            Log.HostProcesses(logger, "AgentOs:Sandbox is 'none'");
            return new HostProcessSandbox();
        }

        var bwrap = FindOnPath("bwrap");
        var problem = bwrap is null ? "bwrap was not found on PATH (Debian/Ubuntu: apt-get install bubblewrap)" : Probe(bwrap, ["--disable-userns"]);
        var disableUserNamespaces = problem is null;
        if (problem is not null && bwrap is not null && Probe(bwrap, []) is null)
        {
            Log.NestedUserNamespacesOpen(logger, bwrap);
            problem = null;
        }

        if (problem is null)
        {
            var identity = Path.Combine(options.DataDirectoryFullPath, "sandbox");
            BubblewrapSandbox.WriteIdentity(identity);
            var seccomp = WriteSeccompFilter(bwrap!, identity, disableUserNamespaces);
            var users = SelectUsers(bwrap!, options, logger);
            var networks = SelectNetwork(options, logger);
            Log.Bubblewrap(logger, bwrap!, users is null ? $"the server's own (uid {Layout.FileOwners.Server.Uid})" : $"one of each VM's own, from uid {options.SandboxFirstUid}",
                NetworkSummary(options), NestedUserNamespaces(users is not null, disableUserNamespaces, seccomp is not null),
                seccomp is null ? "NOT applied (x86-64 only)" : SeccompFilter.Summary, string.Join(", ", Software.CommonTools.Present),
                Software.CommonTools.Missing.Count == 0 ? "none" : string.Join(", ", Software.CommonTools.Missing));
            return new BubblewrapSandbox(bwrap!, options.SandboxNetwork, networks, users, identity, disableUserNamespaces, seccomp);
        }

        if (options.Sandbox == SandboxMode.Bubblewrap)
        {
            throw new InvalidOperationException($"AgentOs:Sandbox is 'bubblewrap' but {problem}. Install bubblewrap, or set AgentOs:Sandbox to 'auto' or 'none'.");
        }

        Log.HostProcesses(logger, problem);
        return new HostProcessSandbox();
    }

    /// <summary>
    /// Each VM's own uid (<see cref="VmUsers"/>) when the server is root; one throw-away sandbox in such a user namespace must
    /// start, or the server does not (running agents as root instead would give them root's files).
    /// </summary>
    private static VmUsers? SelectUsers(string bwrap, AgentOsOptions options, ILogger logger)
    {
        if (VmUsers.Create(options, logger) is not { } users)
        {
            return null;
        }

        var user = users.ProbeUserAsync().GetAwaiter().GetResult();
        try
        {
            var problem = Probe(users.Setpriv, [.. VmUsers.BecomeArgs(user.Owner), bwrap, "--userns", "5", "--uid", VmUsers.SandboxUid.ToString(System.Globalization.CultureInfo.InvariantCulture)], fd5: user.NamespacePath);
            return problem is null ? users : throw new InvalidOperationException(
                $"The server runs as root, so each VM's agents run as a uid of its own (AgentOs:SandboxFirstUid), but a sandbox in such a user namespace did not start: {problem}.");
        }
        finally
        {
            user.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static string NestedUserNamespaces(bool vmUsers, bool disabledByBwrap, bool seccomp) => (vmUsers, disabledByBwrap, seccomp) switch
    {
        (false, true, _) => "refused (bwrap --disable-userns)",
        (_, _, true) => "refused (the seccomp filter)",
        _ => "NOT refused",
    };

    /// <summary>
    /// The VMs' own networks under <see cref="SandboxNetworkMode.Internet"/>: the tools must be there and one throw-away
    /// namespace must come up, or the server does not start (falling back to the host's network would open the control
    /// plane to every agent). <see cref="SandboxNetworkMode.Host"/> is logged as a warning.
    /// </summary>
    private static VmNetworks? SelectNetwork(AgentOsOptions options, ILogger logger)
    {
        switch (options.SandboxNetwork)
        {
            case SandboxNetworkMode.Host:
                Log.HostNetwork(logger);
                return null;
            case SandboxNetworkMode.None:
                return null;
        }

        var (tools, missing) = NetworkTools.Find();
        var fix = "Install them, or set AgentOs:SandboxNetwork to 'none' (agents without a network) or, unsafe, 'host'.";
        if (tools is null)
        {
            throw new InvalidOperationException($"AgentOs:SandboxNetwork is 'internet' (the default), which gives each VM a network namespace of its own, but {missing}. {fix}");
        }

        var probe = Stopwatch.StartNew();
        VmNetwork spare;
        try
        {
            spare = VmNetworks.CreateAsync(tools, options.SandboxAllowHostPorts).GetAwaiter().GetResult();
        }
        catch (AgentOsException ex)
        {
            throw new InvalidOperationException($"AgentOs:SandboxNetwork is 'internet' (the default), but the probe failed. {ex.Message} {fix}", ex);
        }

        Log.NetworkProbe(logger, probe.Elapsed.TotalMilliseconds);
        return new VmNetworks(tools, options.SandboxAllowHostPorts, spare); // the probe's network is the first VM's
    }

    /// <summary>Writes <see cref="SeccompFilter"/>'s program (0600) and checks bwrap takes it; null on a machine it does not cover.</summary>
    private static string? WriteSeccompFilter(string bwrap, string identity, bool disableUserNamespaces)
    {
        if (SeccompFilter.ForThisMachine() is not { } program)
        {
            return null;
        }

        var path = Path.Combine(identity, "seccomp.bpf");
        using (var file = Layout.PrivateFiles.Create(path, FileMode.Create))
        {
            file.Write(program);
        }

        var problem = Probe(bwrap, [.. (disableUserNamespaces ? new[] { "--disable-userns" } : []), "--seccomp", "4"], path);
        return problem is null ? path : throw new InvalidOperationException($"The sandbox's seccomp filter was refused: {problem}.");
    }

    private static string NetworkSummary(AgentOsOptions options) => options.SandboxNetwork switch
    {
        SandboxNetworkMode.Internet => "internet through slirp4netns in a namespace per VM, the host unreachable" +
            (options.SandboxAllowHostPorts.Count == 0 ? "" : $" but ports {string.Join(", ", options.SandboxAllowHostPorts)}"),
        SandboxNetworkMode.None => "none (loopback only)",
        _ => "THE HOST'S",
    };

    /// <summary>
    /// Starts one throw-away sandbox: <paramref name="bwrap"/> with a user namespace of its own, or, with <paramref name="fd5"/> (a user
    /// namespace to join), <paramref name="bwrap"/> is the launcher (setpriv) and <paramref name="extra"/> starts with bwrap. Null when it
    /// works, else what went wrong.
    /// </summary>
    private static string? Probe(string bwrap, string[] extra, string? fd4 = null, string? fd5 = null)
    {
        // Through sh, which can open files on descriptors for bwrap (fd 4, fd 5), as the agent launcher does.
        var start = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        string[] launch = fd5 is null ? [bwrap, "--unshare-user", .. extra] : [bwrap, .. extra]; // with fd 5, bwrap is setpriv and extra names bwrap
        foreach (var arg in (string[])["-c", "if [ -n \"$1\" ]; then exec 4<\"$1\"; fi; if [ -n \"$2\" ]; then exec 5<\"$2\"; fi; shift 2; exec \"$@\"", "agentos-probe", fd4 ?? "", fd5 ?? "",
            .. launch, "--unshare-pid", "--cap-drop", "ALL", .. BubblewrapSandbox.SystemDirectoryArgs(), "--proc", "/proc", "--", "true"])
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEnd();
            if (!process.WaitForExit(10_000))
            {
                process.Kill();
                return $"the bwrap probe at {bwrap} did not finish in 10 s";
            }

            return process.ExitCode == 0 ? null : $"the bwrap probe failed (exit {process.ExitCode}: {stderr.Trim()}); user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone)";
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return $"bwrap at {bwrap} could not be started: {ex.Message}";
        }
    }

    /// <summary>A program on the server's PATH, or in the system's sbin folders.</summary>
    internal static string? FindOnPath(string name) =>
        ((Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Agents run under bubblewrap ({Bwrap}); host uid: {Uid}; network: {Network}; nested user namespaces {UserNamespaces}; seccomp: {Seccomp}; common tools from the host, read-only: {Tools} (not on this host: {Missing})")]
        public static partial void Bubblewrap(ILogger logger, string bwrap, string uid, string network, string userNamespaces, string seccomp, string tools, string missing);

        [LoggerMessage(Level = LogLevel.Debug, Message = "A VM network namespace (holder, nftables rules, slirp4netns) came up in {Milliseconds:F1} ms; it is kept as the first VM's")]
        public static partial void NetworkProbe(ILogger logger, double milliseconds);

        [LoggerMessage(Level = LogLevel.Warning, Message = "AgentOs:SandboxNetwork is 'host': AGENTS SHARE THE HOST'S NETWORK and can reach every service on it, this server's HTTP port, Orleans gateway and silo included. Use 'internet' (the default) unless every agent is trusted.")]
        public static partial void HostNetwork(ILogger logger);

        [LoggerMessage(Level = LogLevel.Warning, Message = "{Bwrap} does not support --disable-userns (bubblewrap 0.8 or later does): agents can create nested user namespaces, the way in to many kernel local-root bugs. Upgrade bubblewrap.")]
        public static partial void NestedUserNamespacesOpen(ILogger logger, string bwrap);

        [LoggerMessage(Level = LogLevel.Warning, Message = "AGENTS ARE NOT SANDBOXED: {Reason}. Agents run as host processes with the server's user: their fs/* requests stay confined to the VM, but their own processes can read anything that user can. Install bubblewrap for real isolation.")]
        public static partial void HostProcesses(ILogger logger, string reason);
    }
}
