using System.Text.RegularExpressions;
using AgentOs.Hosting;
using Microsoft.Extensions.Options;

namespace AgentOs.Agents;

/// <summary>An agent type: how to launch its ACP command.</summary>
internal sealed record AgentTypeDefinition(string Name, string Command, IReadOnlyList<string> Args, IReadOnlyDictionary<string, string> Env);

/// <summary>The agent types this server knows: those declared under <c>AgentOs:Agents</c>.</summary>
internal sealed partial class AgentTypeRegistry(IOptionsMonitor<AgentOsOptions> options)
{
    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex NamePattern();

    public IReadOnlyList<string> Names => options.CurrentValue.Agents.Keys.Order(StringComparer.Ordinal).ToList();

    public AgentTypeDefinition Resolve(string? agentType)
    {
        var agents = options.CurrentValue.Agents;
        if (string.IsNullOrWhiteSpace(agentType) || !agents.TryGetValue(agentType, out var declared))
        {
            var known = agents.Count == 0 ? "none are configured" : "known: " + string.Join(", ", Names);
            throw new AgentOsException(AgentOsErrorCode.UnknownAgentType,
                $"Unknown agent type '{agentType}' ({known}). Declare one with AgentOs:Agents:<name>:Command and :Args, e.g. the environment variables AgentOs__Agents__mine__Command=node AgentOs__Agents__mine__Args__0=/path/agent.mjs.");
        }

        if (!NamePattern().IsMatch(agentType) || string.IsNullOrWhiteSpace(declared.Command))
        {
            throw new AgentOsException(AgentOsErrorCode.UnknownAgentType,
                $"Agent type '{agentType}' is misconfigured: it needs a name of letters, digits, '.', '_' or '-' and a non-empty Command (AgentOs:Agents:{agentType}:Command).");
        }

        return new AgentTypeDefinition(agentType, declared.Command, declared.Args.ToList(), new Dictionary<string, string>(declared.Env, StringComparer.Ordinal));
    }
}
