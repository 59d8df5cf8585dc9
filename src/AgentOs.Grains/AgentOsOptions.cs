namespace AgentOs;

/// <summary>Server options, bound from the <c>AgentOs</c> configuration section.</summary>
public sealed class AgentOsOptions
{
    public const string SectionName = "AgentOs";

    /// <summary>Where VMs keep their databases and files. Default <c>./data</c>.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>Custom ACP agent types by name (<c>AgentOs:Agents:&lt;name&gt;</c>).</summary>
    public Dictionary<string, AgentTypeOptions> Agents { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Timeout of the ACP <c>initialize</c> handshake. Default 10 s.</summary>
    public TimeSpan InitializeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Timeout of <c>session/new</c>, <c>session/load</c>. Default 30 s.</summary>
    public TimeSpan NewSessionTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest prompt turn. Default 10 minutes.</summary>
    public TimeSpan PromptTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Timeout of other ACP requests. Default 2 minutes.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long an agent gets to exit after its SIGTERM (sent to its own process 250 ms after its stdin closes), before it is killed. Default 2 s.</summary>
    public TimeSpan AgentStopGracePeriod { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A VM with no call for this long goes to sleep: its agents stop, its sessions become suspended.
    /// Never while a prompt runs. Default 15 minutes.
    /// </summary>
    public TimeSpan VmIdleTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// The largest file an agent may read through ACP <c>fs/read_text_file</c> (checked before reading),
    /// in bytes. Default 10 MiB.
    /// </summary>
    public long MaxFsReadBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>
    /// The most output one terminal of an agent (ACP <c>terminal/create</c>) keeps, in bytes: its <c>outputByteLimit</c> when
    /// smaller, else this; older output is dropped from the start. Default 1 MiB.
    /// </summary>
    public int MaxTerminalOutputBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// How many terminals one session may hold (running, or exited and not yet released). At the limit a new
    /// <c>terminal/create</c> releases the oldest exited one; when all run, it is refused. Default 16.
    /// </summary>
    public int MaxTerminalsPerSession { get; set; } = 16;

    /// <summary>Largest prompt accepted, in characters. Default 1,000,000.</summary>
    public int MaxPromptLength { get; set; } = 1_000_000;

    /// <summary>
    /// How many prompts may wait behind a session's running turn (first in, first out); one more is
    /// refused with <see cref="AgentOsErrorCode.SessionBusy"/>. Default 16.
    /// </summary>
    public int MaxQueuedPrompts { get; set; } = 16;

    /// <summary>
    /// How agents are confined: <see cref="SandboxMode.Auto"/> (default) uses bubblewrap when it is
    /// installed and works, else runs agents as host processes and says so loudly at start.
    /// </summary>
    public SandboxMode Sandbox { get; set; } = SandboxMode.Auto;

    /// <summary>
    /// The network of sandboxed agents: <see cref="SandboxNetworkMode.Internet"/> (default: outbound connections and DNS
    /// through a user-mode network stack of each VM's own, the host itself unreachable), <see cref="SandboxNetworkMode.None"/>
    /// (loopback only) or <see cref="SandboxNetworkMode.Host"/> (the host's network, control plane included: unsafe).
    /// </summary>
    public SandboxNetworkMode SandboxNetwork { get; set; } = SandboxNetworkMode.Internet;

    /// <summary>
    /// TCP ports on the host's loopback that sandboxed agents may reach in <see cref="SandboxNetworkMode.Internet"/> mode
    /// (a local LLM gateway, say), at <c>127.0.0.1:&lt;port&gt;</c> as on the host. Nothing else on the host is reachable. Default none.
    /// </summary>
    public List<int> SandboxAllowHostPorts { get; set; } = [];

    /// <summary>The first host uid given to a VM when the server runs as root (<see cref="DefaultSandboxFirstUid"/>).</summary>
    public const uint DefaultSandboxFirstUid = 1_600_000_000;

    /// <summary>
    /// When the server runs as root, each VM's sandboxed agents run as a host uid (and gid) of that VM's own, taken in
    /// order from this one: unprivileged, owning the VM's home and nothing else on the host. Default 1,600,000,000
    /// (inside the range systemd sets aside for containers' users); pick a range no user, container engine or
    /// <c>/etc/subuid</c> entry of the host uses. Without root, agents run as the server's own user.
    /// </summary>
    public uint SandboxFirstUid { get; set; } = DefaultSandboxFirstUid;

    /// <summary>How many host uids from <see cref="SandboxFirstUid"/> the VMs may take. Default 200,000,000.</summary>
    public uint SandboxUidCount { get; set; } = 200_000_000;

    /// <summary>Where software packages are installed. Default <c>&lt;DataDirectory&gt;/software</c>.</summary>
    public string? SoftwareDirectory { get; set; }

    /// <summary>Software packages installed in the background at start (e.g. <c>pi</c>), so the first session does not wait.</summary>
    public List<string> Preinstall { get; set; } = [];

    /// <summary>
    /// How long a permission request of a session with <see cref="PermissionPolicy.Ask"/> waits for
    /// <c>RespondPermission</c> before it is rejected (a session may set its own). Default 5 minutes.
    /// </summary>
    public TimeSpan PermissionTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// After <c>CancelPrompt</c>, how long the agent gets to end its turn. Past it AgentOs ends the turn itself
    /// (stop reason <c>cancelled</c>); an agent that has not ended it one more grace period later is restarted.
    /// Default 5 s.
    /// </summary>
    public TimeSpan CancelGracePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a batch of events that the VM's database refuses (locked by another process, disk full, I/O error)
    /// is retried, with backoff, while the VM's agents are held back (their output is not read, so they block on
    /// it). Past it the events count as lost: the sessions' turns fail with <c>StorageUnavailable</c>, their agents
    /// are stopped and <c>_agentos/events_lost</c> records the loss. Default 30 s.
    /// </summary>
    public TimeSpan StorageRetryTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Where the VMs' databases live (<c>&lt;DatabaseDirectory&gt;/&lt;vmId&gt;/vm.db</c>); default
    /// <c>&lt;DataDirectory&gt;/vms</c>, next to the VM homes. Point it at another filesystem to keep agents' files and
    /// the transcripts apart.
    /// </summary>
    public string? DatabaseDirectory { get; set; }

    /// <summary>
    /// Free space kept under <see cref="DatabaseDirectory"/>: below it new turns and sessions are refused with
    /// <c>StorageUnavailable</c>, and a quarter of it is set aside as a reserve file that a full disk releases to
    /// running turns. 0 turns both off. Default 256 MiB.
    /// </summary>
    public long MinFreeDiskBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// The largest agent message stored as it is (its params, in bytes). A larger one is stored as an
    /// <c>_agentos/truncated</c> marker with its size, SHA-256 and first 64 KiB, and the turn goes on. Default 1 MiB.
    /// </summary>
    public long MaxEventBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// What survives a power cut: <c>process</c> (default; SQLite WAL with <c>synchronous=NORMAL</c>: every committed
    /// event survives a killed server, a power cut may take the last ones, and their seqs are never reused) or
    /// <c>power</c> (<c>synchronous=FULL</c>: every commit fsynced). docs/benchmarks.md has the cost of each.
    /// </summary>
    public Durability Durability { get; set; } = Durability.Process;

    /// <summary>
    /// How long the shutdown (SIGTERM) may take to end every running turn as cancelled, stop every agent with its exit
    /// recorded and flush every VM's events, all VMs at once, before Orleans deactivates what is left. Default 30 s;
    /// the host's own shutdown timeout is set 30 s above it.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Each agent's resource limits unless its session asks for others (<c>CreateSessionOptions.Limits</c>): 2 GiB of
    /// memory, 512 processes, CPU weight 100. Enforced with a cgroup per agent (see README, "Limits").
    /// </summary>
    public AgentLimitOptions AgentLimits { get; set; } = new();

    /// <summary>
    /// The most disk one VM's home may take, in bytes (files rounded up to 4 KiB blocks, 4 KiB per folder); 0 turns it off.
    /// Past it the VM's agents are stopped (<c>_agentos/limit</c> <c>disk</c>, <c>agent_exit</c> <c>reason: disk_quota</c>,
    /// the running turn fails <c>ResourceLimit</c>) and fs/write_text_file is refused; an agent started while the VM is
    /// over it may add 16 MiB, to delete files. Default 10 GiB: a few checked-out projects with their dependencies.
    /// </summary>
    public long VmDiskQuota { get; set; } = 10L * 1024 * 1024 * 1024;

    /// <summary>
    /// Where the cgroup file system is mounted (default <c>/sys/fs/cgroup</c>). Where no hierarchy under it is writable,
    /// the server starts with a warning and limits each agent process's memory with <c>RLIMIT_DATA</c> instead.
    /// </summary>
    public string CgroupRoot { get; set; } = "/sys/fs/cgroup";

    /// <summary>Live sessions (running agents) one VM may have at once; one more is refused with <c>QuotaExceeded</c>. Default 16.</summary>
    public int MaxSessionsPerVm { get; set; } = 16;

    /// <summary>Agents the server runs at once, over all VMs. Default 256.</summary>
    public int MaxLiveAgents { get; set; } = 256;

    /// <summary>VMs with at least one live agent at once. Default 256.</summary>
    public int MaxActiveVms { get; set; } = 256;

    /// <summary>The most a session may ask for in <c>CreateSessionOptions.Limits</c>: 16 GiB, 8192 processes, weight 10000.</summary>
    public AgentLimitOptions MaxAgentLimits { get; set; } = new() { MemoryBytes = 16L * 1024 * 1024 * 1024, Processes = 8192, CpuWeight = 10_000 };

    /// <summary>Where agent stderr goes; when null, to the host's stderr with a prefix.</summary>
    public Action<AgentStderrChunk>? OnAgentStderr { get; set; }

    /// <summary>The absolute data directory.</summary>
    public string DataDirectoryFullPath => Path.GetFullPath(DataDirectory);

    /// <summary>The absolute database directory.</summary>
    public string DatabaseDirectoryFullPath => Path.GetFullPath(DatabaseDirectory ?? Path.Combine(DataDirectoryFullPath, "vms"));

    /// <summary>The absolute software directory.</summary>
    public string SoftwareDirectoryFullPath => Path.GetFullPath(SoftwareDirectory ?? Path.Combine(DataDirectoryFullPath, "software"));
}

/// <summary>The network a sandboxed agent gets (<see cref="AgentOsOptions.SandboxNetwork"/>).</summary>
public enum SandboxNetworkMode
{
    /// <summary>
    /// A network namespace per VM, connected to the outside through slirp4netns (a user-mode TCP/IP stack): outbound
    /// connections and DNS work; the host's loopback, its own addresses and link-local 169.254.0.0/16 are refused by
    /// nftables rules inside the namespace, except <see cref="AgentOsOptions.SandboxAllowHostPorts"/>.
    /// </summary>
    Internet,

    /// <summary>A network namespace with nothing but its own loopback.</summary>
    None,

    /// <summary>The host's network namespace: the agent reaches every service of the host, AgentOs' own ports included. Unsafe; logged as a warning.</summary>
    Host,
}

/// <summary>How agent processes are confined to their VM.</summary>
public enum SandboxMode
{
    /// <summary>bubblewrap when available, else host processes (logged as a warning at start).</summary>
    Auto,

    /// <summary>bubblewrap, or the server refuses to start.</summary>
    Bubblewrap,

    /// <summary>Host processes: VM paths map onto the VM's directory; only the server-side fs/* handlers are confined.</summary>
    None,
}

/// <summary>
/// A custom ACP agent type: any command that speaks ACP on stdio. Under a built-in name
/// (<c>pi</c>, <c>claude-code</c>, …) without a <see cref="Command"/>, it only adds <see cref="Env"/>
/// (API keys, say) to the built-in package.
/// </summary>
public sealed class AgentTypeOptions
{
    /// <summary>The executable (a path, or a name found on PATH).</summary>
    public string Command { get; set; } = "";

    /// <summary>Its arguments.</summary>
    public List<string> Args { get; set; } = [];

    /// <summary>Environment variables every session of this type gets (sessions can override).</summary>
    public Dictionary<string, string> Env { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Host paths the sandboxed agent may read (bound read-only at the same path). The command and
    /// any absolute path among the arguments are added on their own (a file's folder).
    /// </summary>
    public List<string> ReadOnlyPaths { get; set; } = [];

    /// <summary>
    /// How the agent takes its instructions (OS instructions plus <c>AdditionalInstructions</c>):
    /// arguments appended to <see cref="Args"/>, where <c>{file}</c> becomes the path of a file holding
    /// them (as the agent sees it) and <c>{text}</c> the text itself. Example: <c>--append-system-prompt {file}</c>.
    /// </summary>
    public List<string> InstructionsArgs { get; set; } = [];

    /// <summary>Like <see cref="InstructionsArgs"/>, as environment variables (<c>{file}</c>, <c>{text}</c> in the values).</summary>
    public Dictionary<string, string> InstructionsEnv { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// This type's agents' limits where they differ from <see cref="AgentOsOptions.AgentLimits"/> (a session's
    /// <c>CreateSessionOptions.Limits</c> still wins), each at most <see cref="AgentOsOptions.MaxAgentLimits"/>.
    /// Works for built-in types too (<c>AgentOs:Agents:pi:Limits:MemoryBytes</c>).
    /// </summary>
    public AgentTypeLimitOptions Limits { get; set; } = new();
}

/// <summary>One chunk of an agent's stderr.</summary>
/// <param name="VmId">The VM the agent runs in.</param>
/// <param name="SessionId">The session it serves.</param>
/// <param name="AgentType">Its agent type.</param>
/// <param name="ProcessId">AgentOs' id of the process (the session id; one process per session).</param>
/// <param name="Pid">The host process id.</param>
/// <param name="Chunk">The text (one line).</param>
public sealed record AgentStderrChunk(string VmId, string SessionId, string AgentType, string ProcessId, int Pid, string Chunk);

/// <summary>What survives a power cut (<see cref="AgentOsOptions.Durability"/>).</summary>
public enum Durability
{
    /// <summary>WAL with <c>synchronous=NORMAL</c>: every committed event survives a killed server; a power cut may take the last ones (their seqs are never reused).</summary>
    Process = 0,

    /// <summary>WAL with <c>synchronous=FULL</c>: every commit is fsynced, so committed events survive a power cut too (at the cost the benchmark reports).</summary>
    Power = 1,
}

/// <summary>Resource limits of one agent (<see cref="AgentOsOptions.AgentLimits"/>, <see cref="AgentOsOptions.MaxAgentLimits"/>).</summary>
public sealed class AgentLimitOptions
{
    /// <summary>Memory in bytes (<c>memory.max</c>, swap off). Default 2 GiB: a coding agent on Node uses 0.2 to 1 GiB with its tools; a build it runs may want more, and asks for it per session.</summary>
    public long MemoryBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>Processes and threads (<c>pids.max</c>). Default 512: Node alone runs ~11 threads, a test run or build a few hundred; a fork bomb stops there.</summary>
    public int Processes { get; set; } = 512;

    /// <summary>CPU weight (<c>cpu.weight</c>, 1 to 10000; v1 <c>cpu.shares</c> = weight × 1024 / 100). Default 100, the kernel's own default.</summary>
    public int CpuWeight { get; set; } = 100;

    /// <summary>
    /// A hard CPU quota in cores (<c>cpu.max</c>; v1 <c>cpu.cfs_quota_us</c> over a 100 ms period). Default 0: none (the
    /// weight shares a contended CPU; a quota also caps an idle one). In <see cref="AgentOsOptions.MaxAgentLimits"/>, the
    /// most a session may ask for (0: any).
    /// </summary>
    public double CpuCores { get; set; }
}

/// <summary>An agent type's own limits (<see cref="AgentTypeOptions.Limits"/>): each one left out takes the server's.</summary>
public sealed class AgentTypeLimitOptions
{
    /// <summary>Memory in bytes.</summary>
    public long? MemoryBytes { get; set; }

    /// <summary>Processes and threads.</summary>
    public int? Processes { get; set; }

    /// <summary>CPU weight.</summary>
    public int? CpuWeight { get; set; }

    /// <summary>CPU quota in cores.</summary>
    public double? CpuCores { get; set; }
}
