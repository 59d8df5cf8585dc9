namespace AgentOs.Software;

/// <summary>
/// A software package: an agent type's pinned npm packages, installed once into the shared software
/// directory, and how to launch, instruct and authenticate the agent. In <see cref="Command"/>,
/// <see cref="Args"/>, <see cref="Env"/> and <see cref="Files"/>, <c>{dir}</c> is the install folder.
/// </summary>
/// <param name="Name">The agent type name (<c>pi</c>, <c>claude-code</c>, …).</param>
/// <param name="NpmPackages">Exact <c>name@version</c> specs, verified to work together.</param>
/// <param name="Command">The ACP command.</param>
/// <param name="Args">Its arguments.</param>
/// <param name="Env">Environment it always gets.</param>
/// <param name="InstructionsArgs">How it takes instructions, as arguments (<c>{file}</c>, <c>{text}</c>).</param>
/// <param name="InstructionsEnv">How it takes instructions, as environment variables.</param>
/// <param name="Credentials">What it needs to reach its LLM.</param>
/// <param name="Files">Extra files written into the install folder (relative path → content), executable.</param>
internal sealed record SoftwarePackage(
    string Name,
    IReadOnlyList<string> NpmPackages,
    string Command,
    IReadOnlyList<string> Args,
    IReadOnlyDictionary<string, string> Env,
    IReadOnlyList<string> InstructionsArgs,
    IReadOnlyDictionary<string, string> InstructionsEnv,
    Credentials Credentials,
    IReadOnlyDictionary<string, string>? Files = null)
{
    /// <summary>True when instructions go in session/new's <c>_meta.systemPrompt.append</c> (Claude Code's adapter).</summary>
    public bool InstructionsInSessionMeta { get; init; }

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
