namespace AgentOs;

/// <summary>
/// An agent type: what to launch and how to instruct and authenticate it. The one shape of an agent type:
/// a built-in software package declares its own (<c>{dir}</c> standing for the install folder until
/// <see cref="InstalledAt"/>), a custom type is read from its <see cref="AgentTypeOptions"/>, and the
/// registry hands the resolved one to the launch planner.
/// </summary>
/// <param name="Name">The agent type name (<c>pi</c>, <c>claude-code</c>, a custom name).</param>
/// <param name="Command">The ACP command.</param>
/// <param name="Args">Its arguments.</param>
/// <param name="Env">Environment every session of the type gets (a session's Env overrides it).</param>
internal sealed record AgentType(string Name, string Command, IReadOnlyList<string> Args, IReadOnlyDictionary<string, string> Env)
{
    /// <summary>Host paths the sandboxed agent reads (its software, its command's folder).</summary>
    public IReadOnlyList<string> ReadOnlyPaths { get; init; } = [];

    /// <summary>How it takes instructions, as arguments (<c>{file}</c>, <c>{text}</c>, <c>{json}</c>).</summary>
    public IReadOnlyList<string> InstructionsArgs { get; init; } = [];

    /// <summary>How it takes instructions, as environment variables.</summary>
    public IReadOnlyDictionary<string, string> InstructionsEnv { get; init; } = new Dictionary<string, string>();

    /// <summary>True when instructions go in session/new's <c>_meta.systemPrompt.append</c> (Claude Code's adapter).</summary>
    public bool InstructionsInSessionMeta { get; init; }

    /// <summary>Its agents' own limits (<c>AgentOs:Agents:&lt;name&gt;:Limits</c>), each over the server's default; null fields take the default.</summary>
    public ResourceLimits? Limits { get; init; }

    /// <summary>What it needs to reach its LLM.</summary>
    public Credentials Credentials { get; init; } = Credentials.None;

    /// <summary>True when the agent has a declared way to take instructions.</summary>
    public bool TakesInstructions => InstructionsArgs.Count > 0 || InstructionsEnv.Count > 0 || InstructionsInSessionMeta;

    /// <summary>
    /// This type as installed in <paramref name="dir"/>: <c>{dir}</c> replaced in the command, arguments and
    /// environment, the folder readable by the agent, and <paramref name="extraEnv"/> (the configuration's
    /// Env for a built-in) added on top.
    /// </summary>
    public AgentType InstalledAt(string dir, IReadOnlyDictionary<string, string>? extraEnv = null)
    {
        var env = Env.ToDictionary(e => e.Key, e => Expand(e.Value, dir), StringComparer.Ordinal);
        foreach (var (key, value) in extraEnv ?? new Dictionary<string, string>())
        {
            env[key] = value;
        }

        return this with { Command = Expand(Command, dir), Args = Args.Select(a => Expand(a, dir)).ToList(), Env = env, ReadOnlyPaths = [dir] };
    }

    /// <summary>Replaces <c>{dir}</c> with the install folder.</summary>
    public static string Expand(string value, string dir) => value.Replace("{dir}", dir, StringComparison.Ordinal);
}

/// <summary>
/// Credentials an agent needs: one of <see cref="AnyOfEnv"/> set (by the server's agent type
/// options or the session's Env), or one of <see cref="OrHomeFiles"/> present in the VM's home.
/// </summary>
internal sealed record Credentials(IReadOnlyList<string> AnyOfEnv, IReadOnlyList<string> OrHomeFiles)
{
    public static readonly Credentials None = new([], []);

    public bool IsRequired => AnyOfEnv.Count > 0 || OrHomeFiles.Count > 0;
}
