using AgentOs.Hosting;
using AgentOs.Server.Http.Auth;

namespace AgentOs.Server.Http;

/// <summary><c>/v1/agent-types</c>: the agent types this server can start, so a client can offer them (the web console's session form does).</summary>
internal static class AgentTypeEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapGet("/agent-types", (IServiceProvider services) =>
                TypedResults.Ok<IReadOnlyList<AgentTypeSummary>>(services.GetAgentTypeNames()
                    .Select(name => new AgentTypeSummary(name, AgentOsSoftware.PackageNames.Contains(name, StringComparer.Ordinal))).ToList()))
            .WithName("ListAgentTypes").WithSummary("The agent types sessions may be created with, sorted")
            .WithDescription("The built-in software packages (pi, claude-code, codex, opencode; installed from npm on first use) and the types declared under AgentOs:Agents. " +
                "A declaration without a Command only adds Env to the built-in of its name.")
            .RequireAuthorization(ApiPolicies.List);
    }
}
