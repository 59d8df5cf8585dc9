using System.Text.RegularExpressions;
using AgentOs.Software;
using Microsoft.Extensions.Options;

namespace AgentOs.Agents;

/// <summary>
/// The agent types this server knows: the built-in software packages (<see cref="BuiltInSoftware"/>)
/// and the custom ones declared under <c>AgentOs:Agents</c>. A custom declaration with a Command
/// replaces a built-in of the same name; one without a Command only adds Env to the built-in.
/// </summary>
internal sealed partial class AgentTypeRegistry(IOptionsMonitor<AgentOsOptions> options, SoftwareInstaller installer)
{
    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex NamePattern();

    public IReadOnlyList<string> Names => BuiltInSoftware.All.Select(p => p.Name)
        .Concat(options.CurrentValue.Agents.Where(a => !string.IsNullOrWhiteSpace(a.Value.Command)).Select(a => a.Key))
        .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>Checks the name only, at once (no install): throws <see cref="AgentOsErrorCode.UnknownAgentType"/>.</summary>
    public void Validate(string? agentType)
    {
        if (string.IsNullOrWhiteSpace(agentType) || !Names.Contains(agentType, StringComparer.Ordinal))
        {
            throw new AgentOsException(AgentOsErrorCode.UnknownAgentType,
                $"Unknown agent type '{agentType}' (known: {string.Join(", ", Names)}). Declare a custom one with AgentOs:Agents:<name>:Command and :Args, e.g. the environment variables AgentOs__Agents__mine__Command=node AgentOs__Agents__mine__Args__0=/path/agent.mjs.");
        }

        if (!NamePattern().IsMatch(agentType))
        {
            throw new AgentOsException(AgentOsErrorCode.UnknownAgentType,
                $"Agent type '{agentType}' is misconfigured: its name must be letters, digits, '.', '_' or '-'.");
        }
    }

    /// <summary>Resolves <paramref name="agentType"/>, installing its software package on first use.</summary>
    public async Task<AgentType> ResolveAsync(string? agentType, CancellationToken cancellationToken = default)
    {
        Validate(agentType);
        options.CurrentValue.Agents.TryGetValue(agentType!, out var declared);
        if (declared is not null && !string.IsNullOrWhiteSpace(declared.Command))
        {
            return Custom(agentType!, declared);
        }

        var package = BuiltInSoftware.Find(agentType!)!;
        var dir = await installer.EnsureInstalledAsync(package, cancellationToken).ConfigureAwait(false);
        return package.Agent.InstalledAt(dir, declared?.Env) with { Limits = LimitsOf(declared) };
    }

    private AgentType Custom(string name, AgentTypeOptions declared)
    {
        var readOnly = new List<string>();
        foreach (var path in declared.ReadOnlyPaths)
        {
            if (!Path.IsPathFullyQualified(path) || !(Directory.Exists(path) || File.Exists(path)))
            {
                throw Misconfigured(name, $"its ReadOnlyPaths entry '{path}' is not an existing absolute path");
            }

            readOnly.Add(Path.GetFullPath(path));
        }

        // The command and absolute paths among the arguments (a script, a .dll) must be readable in the sandbox.
        foreach (var candidate in declared.Args.Prepend(declared.Command).Where(Path.IsPathFullyQualified))
        {
            if (File.Exists(candidate))
            {
                readOnly.Add(Path.GetDirectoryName(Path.GetFullPath(candidate))!);
            }
            else if (Directory.Exists(candidate))
            {
                readOnly.Add(Path.GetFullPath(candidate));
            }
        }

        var data = options.CurrentValue.DataDirectoryFullPath;
        var software = options.CurrentValue.SoftwareDirectoryFullPath;
        if (readOnly.FirstOrDefault(p => (IsUnder(p, data) || IsUnder(data, p)) && !IsUnder(p, software)) is { } exposed)
        {
            throw Misconfigured(name, $"it would expose '{exposed}', inside the server's data directory, to its agents");
        }

        return new AgentType(name, declared.Command, declared.Args.ToList(), new Dictionary<string, string>(declared.Env, StringComparer.Ordinal))
        {
            ReadOnlyPaths = readOnly.Distinct(StringComparer.Ordinal).ToList(),
            InstructionsArgs = declared.InstructionsArgs.ToList(),
            InstructionsEnv = new Dictionary<string, string>(declared.InstructionsEnv, StringComparer.Ordinal),
            Limits = LimitsOf(declared),
        };
    }

    private static ResourceLimits? LimitsOf(AgentTypeOptions? declared) => declared?.Limits is { } l && (l.MemoryBytes is not null || l.Processes is not null || l.CpuWeight is not null || l.CpuCores is not null)
        ? new ResourceLimits { MemoryBytes = l.MemoryBytes, Processes = l.Processes, CpuWeight = l.CpuWeight, CpuCores = l.CpuCores }
        : null;

    private static bool IsUnder(string path, string root) =>
        path == root || path.StartsWith(root.TrimEnd('/') + "/", StringComparison.Ordinal);

    private static AgentOsException Misconfigured(string name, string reason) => new(AgentOsErrorCode.UnknownAgentType,
        $"Agent type '{name}' is misconfigured: {reason} (AgentOs:Agents:{name}).");
}
