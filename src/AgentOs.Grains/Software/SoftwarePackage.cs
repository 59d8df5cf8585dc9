using System.Text.Json;

namespace AgentOs.Software;

/// <summary>
/// A software package: an agent type's npm packages, installed once into the shared software directory
/// exactly as its lockfile names them (<c>npm ci</c>, lifecycle scripts off), and the <see cref="AgentType"/>
/// it provides. In the type's command, arguments and environment and in <see cref="Files"/>, <c>{dir}</c> is
/// the install folder.
/// </summary>
/// <param name="NpmPackages">Exact <c>name@version</c> specs, verified to work together: the lockfile's direct dependencies.</param>
/// <param name="Agent">The agent type, before installation.</param>
/// <param name="Lockfile">The <c>package-lock.json</c> (v3) that pins every transitive dependency and its integrity hash.</param>
/// <param name="Files">Extra files written into the install folder (relative path → content), executable.</param>
internal sealed record SoftwarePackage(IReadOnlyList<string> NpmPackages, AgentType Agent, string Lockfile, IReadOnlyDictionary<string, string>? Files = null)
{
    /// <summary>The package's name: its agent type's.</summary>
    public string Name => Agent.Name;

    /// <summary>The <c>package.json</c> <c>npm ci</c> checks against the lockfile: its root entry's dependencies.</summary>
    public string PackageJson()
    {
        using var lockfile = JsonDocument.Parse(Lockfile);
        var root = lockfile.RootElement.GetProperty("packages").GetProperty("");
        var dependencies = root.TryGetProperty("dependencies", out var d) ? d.Deserialize<Dictionary<string, string>>() : [];
        return JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["name"] = root.TryGetProperty("name", out var name) ? name.GetString() ?? $"agentos-{Name}" : $"agentos-{Name}",
            ["private"] = true,
            ["dependencies"] = dependencies ?? [],
        });
    }

    /// <summary>A lockfile committed in <c>Software/Lockfiles/&lt;name&gt;/</c>, embedded in this assembly.</summary>
    public static string EmbeddedLockfile(string name)
    {
        using var stream = typeof(SoftwarePackage).Assembly.GetManifestResourceStream($"lockfiles/{name}/package-lock.json")
            ?? throw new InvalidOperationException($"No embedded lockfile for '{name}' (Software/Lockfiles/{name}/package-lock.json).");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
