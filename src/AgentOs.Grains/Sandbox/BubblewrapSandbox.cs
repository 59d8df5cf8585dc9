using AgentOs.Layout;

namespace AgentOs.Sandbox;

/// <summary>
/// Agents under bubblewrap: a user namespace (uid 1000 "agentos", no capabilities; on the host, the VM's own unprivileged
/// uid when the server is root, see <see cref="VmUsers"/>, else the server's user), pid, ipc, uts and
/// cgroup namespace; the host's system directories read-only and nothing else of the host but a
/// short list of <c>/etc</c> files; the VM's home read-write at <c>/home/agentos</c>; a private
/// <c>/tmp</c>, its own <c>/proc</c>, a minimal <c>/dev</c>; killed with the server
/// (<c>--die-with-parent</c>); no nested user namespaces (<c>--disable-userns</c>, bwrap 0.8+). bwrap itself
/// runs with a fixed environment; the agent's is handed over inside, from an arguments file descriptor, so
/// secrets show neither in <c>ps</c> nor to a loader on the host. The network is the VM's own namespace
/// (<see cref="VmNetwork"/>, joined with nsenter before bwrap starts), a namespace with only a loopback, or,
/// when asked for by name, the host's.
/// </summary>
internal sealed class BubblewrapSandbox(string bwrap, SandboxNetworkMode network, VmNetworks? networks, VmUsers? users, string identityDirectory, bool disableUserNamespaces, string? seccompFile) : AgentSandbox
{
    /// <summary>Where server-made files appear inside the sandbox.</summary>
    public const string RunDirectory = "/run/agentos";

    private static readonly string[] SystemDirectories = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

    /// <summary>The only host <c>/etc</c> entries an agent sees: name resolution, TLS roots, libraries, time, alternatives.</summary>
    private static readonly string[] EtcEntries =
    [
        "hosts", "resolv.conf", "nsswitch.conf", "host.conf", "gai.conf", "protocols", "services",
        "ssl", "ca-certificates", "ca-certificates.conf", "pki", "alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d",
        "localtime", "timezone", "mime.types", "os-release", "debian_version", "gitconfig", "inputrc", "bash.bashrc", "profile",
    ];

    public override string Name => "bubblewrap";

    public override async ValueTask DisposeAsync()
    {
        if (networks is not null)
        {
            await networks.DisposeAsync().ConfigureAwait(false);
        }

        if (users is not null)
        {
            await users.DisposeAsync().ConfigureAwait(false);
        }
    }

    public override bool MapsHome => true;

    public override string SearchPath => "/usr/local/bin:/usr/bin:/bin";

    public override string AgentFilePath(string hostPath, string name) => $"{RunDirectory}/{name}";

    public override async Task<AgentLaunch> PrepareAsync(SandboxedCommand command, CancellationToken cancellationToken)
    {
        // The VM's own user (when the server is root): its user namespace, its home handed over, the server's files for it given to it.
        var user = users is null ? null : await users.AcquireAsync(command.Paths, cancellationToken).ConfigureAwait(false);
        try
        {
            return await PrepareAsync(command, user?.Value, user, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (user is not null)
            {
                await user.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    private async Task<AgentLaunch> PrepareAsync(SandboxedCommand command, VmUser? user, IAsyncDisposable? userShare, CancellationToken cancellationToken)
    {
        var args = new List<string> { "--die-with-parent", "--new-session" };
        // A user namespace of the VM's (the launcher opens it on fd 5), or, with the server's uid, one bwrap makes.
        args.AddRange(user is null ? ["--unshare-user"] : ["--userns", "5"]);
        args.AddRange(
        [
            "--uid", "1000", "--gid", "1000",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "agentos",
            "--cap-drop", "ALL",
        ]);
        if (disableUserNamespaces && user is null)
        {
            // No nested user namespace (the way in to most kernel local-root bugs): bwrap 0.8 sets user.max_user_namespaces to 1 inside.
            args.Add("--disable-userns");
        }

        if (seccompFile is not null)
        {
            args.AddRange(["--seccomp", "4"]); // the launcher opens SeccompFilter's program on fd 4
        }

        if (network == SandboxNetworkMode.None)
        {
            args.Add("--unshare-net");
        }

        args.AddRange(SystemDirectoryArgs());
        foreach (var entry in EtcEntries)
        {
            if (entry == "resolv.conf" && network == SandboxNetworkMode.Internet)
            {
                // slirp4netns' DNS forwarder, not the host's resolver (which may be on the host's loopback).
                args.AddRange(["--ro-bind", Path.Combine(identityDirectory, "resolv.conf"), "/etc/resolv.conf"]);
                continue;
            }

            args.AddRange(["--ro-bind-try", "/etc/" + entry, "/etc/" + entry]);
        }

        args.AddRange(["--ro-bind", Path.Combine(identityDirectory, "passwd"), "/etc/passwd"]);
        args.AddRange(["--ro-bind", Path.Combine(identityDirectory, "group"), "/etc/group"]);
        args.AddRange(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/var/tmp"]);
        args.AddRange(["--bind", command.Paths.HostHome, VmPaths.Home]);

        foreach (var path in command.ReadOnlyPaths.Where(p => !IsSystemPath(p)).Distinct(StringComparer.Ordinal))
        {
            args.AddRange(["--ro-bind", path, path]);
        }

        foreach (var file in command.Files)
        {
            if (user is not null)
            {
                FileOwners.Give(file.HostPath, user.Owner); // the agent's to read (0600, in the session's 0700 run folder)
            }

            args.AddRange(["--ro-bind", file.HostPath, file.AgentPath]);
        }

        args.AddRange(["--chdir", command.Paths.ToAgent(command.VmCwd), "--"]);
        if (user is not null)
        {
            args.AddRange(["/bin/sh", "-c", "exec \"$@\" 5<&-", "agentos-agent"]); // bwrap leaves the namespace's fd 5 open: not the agent's to hold
        }

        args.AddRange([command.Command, .. command.Args]);

        // A clean launcher: bwrap (and the shell that opens its arguments file) run with a fixed environment of
        // their own, so nothing of the session's Env reaches a loader on the host; the agent's environment goes
        // in through bwrap's --args file descriptor (--clearenv, then --setenv pairs), never on a command line
        // (ps) nor in bwrap's own environment. The file (0600, in the session's 0700 run folder, outside the VM's
        // home) is removed by the shell once opened, before bwrap starts.
        var lease = network == SandboxNetworkMode.Internet ? await networks!.AcquireAsync(command.Paths.Root, cancellationToken).ConfigureAwait(false) : null;
        var argsFile = Path.Combine(command.RunDirectory, "launch.args");
        PrivateFiles.CreateDirectory(command.RunDirectory);
        WriteArgsFile(argsFile, ["--clearenv", .. command.Env.SelectMany(e => new[] { "--setenv", e.Key, e.Value })]);
        IReadOnlyList<string> enter = lease is null ? [] : lease.Value.Enter(networks!.Tools, withItsUserNamespace: user is null);
        // bwrap runs as the VM's uid (with no supplementary group: bwrap clears none) and joins the VM's user namespace.
        IReadOnlyList<string> become = user is null ? [] : [users!.Setpriv, .. VmUsers.BecomeArgs(user.Owner)];
        // bwrap runs from the VM's folder on the host; the agent starts in --chdir.
        return new AgentLaunch("/bin/sh", ["-c", OpenArgsThenRun, "agentos-launch", argsFile, seccompFile ?? "", user?.NamespacePath ?? "", .. enter, .. become, bwrap, "--args", "3", .. args],
            LauncherEnvironment, command.Paths.HostHome, Resources.Of(lease, userShare));
    }

    /// <summary>
    /// sh -c: fd 3 ← the arguments file ($1), which is then removed; fd 4 ← the seccomp program ($2, when set); fd 5 ← the VM's
    /// user namespace ($3, when set); then exec the rest.
    /// </summary>
    private const string OpenArgsThenRun = "f=\"$1\"; s=\"$2\"; u=\"$3\"; shift 3; exec 3<\"$f\" && rm -f \"$f\" && if [ -n \"$s\" ]; then exec 4<\"$s\"; fi && if [ -n \"$u\" ]; then exec 5<\"$u\"; fi && exec \"$@\"";

    /// <summary>The launcher's whole environment: nothing of the server's or the session's.</summary>
    private static readonly IReadOnlyDictionary<string, string> LauncherEnvironment = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["PATH"] = "/usr/bin:/bin",
        ["LANG"] = "C.UTF-8",
    };

    private static void WriteArgsFile(string path, IEnumerable<string> args)
    {
        using var file = PrivateFiles.Create(path, FileMode.Create);
        foreach (var arg in args)
        {
            file.Write(System.Text.Encoding.UTF8.GetBytes(arg));
            file.WriteByte(0);
        }
    }

    /// <summary>The host's system directories, read-only; merged-/usr symlinks (<c>/bin -&gt; usr/bin</c>) as symlinks.</summary>
    public static IEnumerable<string> SystemDirectoryArgs()
    {
        foreach (var dir in SystemDirectories)
        {
            var info = new DirectoryInfo(dir);
            if (info.LinkTarget is { } target)
            {
                yield return "--symlink";
                yield return target;
                yield return dir;
            }
            else if (info.Exists)
            {
                yield return "--ro-bind";
                yield return dir;
                yield return dir;
            }
        }
    }

    private static bool IsSystemPath(string path) =>
        SystemDirectories.Any(d => path == d || path.StartsWith(d + "/", StringComparison.Ordinal));

    /// <summary>Writes the sandbox's <c>/etc/passwd</c>, <c>/etc/group</c> (root and agentos (1000), nothing of the host's) and <c>/etc/resolv.conf</c>.</summary>
    public static void WriteIdentity(string identityDirectory)
    {
        Directory.CreateDirectory(identityDirectory);
        File.WriteAllText(Path.Combine(identityDirectory, "resolv.conf"), NetworkRules.ResolvConf);
        File.WriteAllText(Path.Combine(identityDirectory, "passwd"),
            "root:x:0:0:root:/root:/usr/sbin/nologin\nagentos:x:1000:1000:AgentOs:/home/agentos:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
        File.WriteAllText(Path.Combine(identityDirectory, "group"), "root:x:0:\nagentos:x:1000:\nnogroup:x:65534:\n");
    }
}
