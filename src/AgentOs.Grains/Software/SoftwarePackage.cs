namespace AgentOs.Software;

/// <summary>
/// A software package: an agent type's pinned npm packages, installed once into the shared software
/// directory, and the <see cref="AgentType"/> it provides. In the type's command, arguments and
/// environment and in <see cref="Files"/>, <c>{dir}</c> is the install folder.
/// </summary>
/// <param name="NpmPackages">Exact <c>name@version</c> specs, verified to work together.</param>
/// <param name="Agent">The agent type, before installation.</param>
/// <param name="Files">Extra files written into the install folder (relative path → content), executable.</param>
internal sealed record SoftwarePackage(IReadOnlyList<string> NpmPackages, AgentType Agent, IReadOnlyDictionary<string, string>? Files = null)
{
    /// <summary>The package's name: its agent type's.</summary>
    public string Name => Agent.Name;
}
