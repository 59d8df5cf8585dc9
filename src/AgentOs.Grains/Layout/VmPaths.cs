namespace AgentOs.Layout;

/// <summary>
/// Where a VM lives on the host (<c>&lt;data&gt;/vms/&lt;vmId&gt;/</c>, a '/' in the id written '+': <c>vm.db</c>, <c>home/</c> and
/// <c>run/</c>) and how paths map between three views: the API's VM paths (always under
/// <see cref="Home"/>), the host, and the agent's own view (<see cref="AgentHome"/>: the same
/// <c>/home/agentos</c> inside a sandbox, the host folder when agents run as host processes).
/// </summary>
internal sealed class VmPaths
{
    /// <summary>The VM's home in the API and inside the sandbox.</summary>
    public const string Home = "/home/agentos";

    /// <summary>A VM's paths; its database under <paramref name="databaseDirectory"/> (<see cref="AgentOsOptions.DatabaseDirectory"/>), or next to its home when null.</summary>
    public VmPaths(string dataDirectory, string vmId, bool sandboxed = true, string? databaseDirectory = null)
    {
        var folder = VmId.ToDirectoryName(vmId); // validates; a/b is the folder a+b
        Root = Path.Combine(Path.GetFullPath(dataDirectory), "vms", folder);
        HostHome = Path.Combine(Root, "home");
        Database = databaseDirectory is null ? Path.Combine(Root, "vm.db") : Path.Combine(Path.GetFullPath(databaseDirectory), folder, "vm.db");
        Run = Path.Combine(Root, "run");
        AgentHome = sandboxed ? Home : HostHome;
    }

    public string Root { get; }

    public string HostHome { get; }

    public string Database { get; }

    /// <summary>Per-session files the server hands to agents (instructions), outside the VM's home.</summary>
    public string Run { get; }

    /// <summary>The VM's home as its agents see it.</summary>
    public string AgentHome { get; }

    /// <summary>A VM path (validated) as the agent sees it.</summary>
    public string ToAgent(string vmPath)
    {
        var host = ToHost(vmPath);
        return AgentHome + host[HostHome.Length..];
    }

    /// <summary>
    /// Maps a path the agent sent (an fs/* request) to a path relative to the VM's home, by its letters only
    /// (<see cref="HomeFiles"/> resolves it, symlinks and all, in the kernel, beneath the home). Inside a sandbox
    /// it is a VM path; host-process agents see the host folder, so that prefix is accepted too. A path outside
    /// the home is an <see cref="AgentOsErrorCode.InvalidPath"/> error.
    /// </summary>
    public string RelativeFromAgent(string agentPath)
    {
        if (AgentHome != Home && agentPath is not null && agentPath.StartsWith('/') &&
            Path.GetFullPath(agentPath) is var full && (full == HostHome || full.StartsWith(HostHome + "/", StringComparison.Ordinal)))
        {
            agentPath = Home + full[HostHome.Length..];
        }

        return Normalize(agentPath!)[Home.Length..].TrimStart('/');
    }

    /// <summary>Maps a VM path (absolute, under <see cref="Home"/>) to the host; anything else is an <see cref="AgentOsErrorCode.InvalidPath"/> error.</summary>
    public string ToHost(string vmPath)
    {
        var normalized = Normalize(vmPath);
        var host = Path.GetFullPath(HostHome + normalized[Home.Length..]);
        if (!IsInsideHome(host))
        {
            throw InvalidPath(vmPath);
        }

        return host;
    }

    /// <summary>The VM path with "." and ".." collapsed; anything not under <see cref="Home"/> is an <see cref="AgentOsErrorCode.InvalidPath"/> error.</summary>
    private static string Normalize(string vmPath)
    {
        if (string.IsNullOrWhiteSpace(vmPath) || !vmPath.StartsWith('/') || vmPath.Contains('\0', StringComparison.Ordinal))
        {
            throw InvalidPath(vmPath);
        }

        var normalized = Path.GetFullPath(vmPath);
        if (normalized != Home && !normalized.StartsWith(Home + "/", StringComparison.Ordinal))
        {
            throw InvalidPath(vmPath);
        }

        return normalized;
    }

    /// <summary>True when <paramref name="hostPath"/>, with every symlink along it resolved, stays inside the VM's home.</summary>
    public bool IsInsideHome(string hostPath)
    {
        var resolved = ResolveExisting(hostPath);
        return resolved == HostHome || resolved.StartsWith(HostHome + "/", StringComparison.Ordinal);
    }

    /// <summary>realpath(3) for a path whose tail may not exist yet: every existing component is resolved through symlinks.</summary>
    private static string ResolveExisting(string path)
    {
        var parts = Path.GetFullPath(path).Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = "/";
        for (var i = 0; i < parts.Length; i++)
        {
            var next = Path.Combine(current, parts[i]);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (!info.Exists && info.LinkTarget is null)
            {
                return Path.Combine([next, .. parts[(i + 1)..]]);
            }

            current = info.LinkTarget is null ? next : Path.GetFullPath(info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? next);
        }

        return current;
    }

    private static AgentOsException InvalidPath(string vmPath) => new(AgentOsErrorCode.InvalidPath,
        $"The path '{vmPath}' is outside the VM. Use an absolute path under {Home}.");
}
