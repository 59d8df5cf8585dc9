using AgentOs.Layout;

namespace AgentOs.Sandbox;

/// <summary>What to run for one agent, in the agent's own view of paths, before confinement.</summary>
/// <param name="Paths">The agent's VM.</param>
/// <param name="Command">The executable.</param>
/// <param name="Args">Its arguments.</param>
/// <param name="Env">Its whole environment (the base and the session's).</param>
/// <param name="VmCwd">Its working directory, a VM path.</param>
/// <param name="ReadOnlyPaths">Host paths it may read, visible at the same path.</param>
/// <param name="Files">Server-made files it may read, each at <see cref="SandboxFile.AgentPath"/>.</param>
/// <param name="RunDirectory">The session's host folder for server-made files (0700, outside the VM's home).</param>
internal sealed record SandboxedCommand(
    VmPaths Paths,
    string Command,
    IReadOnlyList<string> Args,
    IReadOnlyDictionary<string, string> Env,
    string VmCwd,
    IReadOnlyList<string> ReadOnlyPaths,
    IReadOnlyList<SandboxFile> Files,
    string RunDirectory);

/// <summary>A host file the agent reads at <paramref name="AgentPath"/>.</summary>
internal sealed record SandboxFile(string HostPath, string AgentPath);

/// <summary>
/// Confines agent processes to their VM. One per server, chosen at start by <c>AgentOs:Sandbox</c>
/// (<see cref="SandboxSelector"/>): <see cref="BubblewrapSandbox"/> or <see cref="HostProcessSandbox"/>.
/// </summary>
internal abstract class AgentSandbox : IAsyncDisposable
{
    /// <summary>Releases what the sandbox keeps between agents (the spare VM network); agents have stopped by then.</summary>
    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>A short name recorded in <c>_agentos/agent_start</c>: <c>bubblewrap</c> or <c>none</c>.</summary>
    public abstract string Name { get; }

    /// <summary>True when agents see their VM's home at <see cref="VmPaths.Home"/>; false when they see the host folder.</summary>
    public abstract bool MapsHome { get; }

    /// <summary>PATH of the agent's base environment.</summary>
    public abstract string SearchPath { get; }

    /// <summary>Where the agent will see the server-made file <paramref name="hostPath"/>, named <paramref name="name"/>.</summary>
    public abstract string AgentFilePath(string hostPath, string name);

    /// <summary>The process to start for <paramref name="command"/>; its <see cref="AgentLaunch.Resources"/> must be released once it has exited (or did not start).</summary>
    public abstract Task<AgentLaunch> PrepareAsync(SandboxedCommand command, CancellationToken cancellationToken);
}

/// <summary>
/// Agents as plain host processes: the environment is still emptied and fs/* requests still
/// confined server-side, but the process itself can read whatever the server's user can.
/// </summary>
internal sealed class HostProcessSandbox : AgentSandbox
{
    public override string Name => "none";

    public override bool MapsHome => false;

    public override string SearchPath => Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";

    public override string AgentFilePath(string hostPath, string name) => hostPath;

    public override Task<AgentLaunch> PrepareAsync(SandboxedCommand command, CancellationToken cancellationToken) =>
        Task.FromResult(new AgentLaunch(command.Command, command.Args, command.Env, command.Paths.ToHost(command.VmCwd)));
}
