using System.Text.Json;
using AgentOs.Server.Http.Auth;

namespace AgentOs.Server.Http;

/// <summary><c>/v1/vms/{vm}/sessions</c>: create, list (persisted, live), get, resume, close, destroy.</summary>
internal static class SessionEndpoints
{
    public static void Map(RouteGroupBuilder vm, RouteGroupBuilder session)
    {
        vm.MapPost("/sessions", async (string vm, CreateSessionRequest request, IGrainFactory grains) =>
            {
                var info = await grains.Grain(vm).CreateSession(request.AgentType, ToOptions(request));
                return TypedResults.Created($"sessions/{info.SessionId}", ToResponse(info));
            })
            .WithName("CreateSession").WithSummary("Starts an agent and opens an ACP session with it")
            .WithDescription("ACP initialize + session/new. 400 for an unknown agent type, a cwd outside the VM, malformed MCP servers; 429 QuotaExceeded; 502 when the agent fails to start.")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status429TooManyRequests).ProducesProblem(StatusCodes.Status502BadGateway)
            .RequireAuthorization(ApiPolicies.Write);

        vm.MapGet("/sessions", async (string vm, IGrainFactory grains) => TypedResults.Ok(await grains.Grain(vm).ListPersistedSessions()))
            .WithName("ListPersistedSessions").WithSummary("Every session the VM has persisted, newest first")
            .WithDescription("From the VM's database; works while the VM sleeps and starts no agent.")
            .RequireAuthorization(ApiPolicies.Read);

        vm.MapGet("/sessions/live", async (string vm, IGrainFactory grains) => TypedResults.Ok(await grains.Grain(vm).ListSessions()))
            .WithName("ListLiveSessions").WithSummary("The ids of the sessions whose agent runs now")
            .RequireAuthorization(ApiPolicies.Read);

        session.MapGet("", async (string vm, string sessionId, IGrainFactory grains) =>
            {
                var id = VmRoute.Id(vm);
                var found = (await grains.GetGrain<IVmGrain>(id).ListPersistedSessions()).FirstOrDefault(s => s.SessionId == sessionId);
                return found is not null
                    ? Results.Ok(found)
                    : Results.Problem(Problems.From(new AgentOsException(AgentOsErrorCode.UnknownSession, $"VM '{id}' has no session '{sessionId}'.") { SessionId = sessionId }));
            })
            .WithName("GetSession").WithSummary("A session as the VM's database records it")
            .Produces<PersistedSession>().ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(ApiPolicies.Read);

        session.MapPost("/resume", async (string vm, string sessionId, IGrainFactory grains) =>
                TypedResults.Ok(ToResponse(await grains.Grain(vm).ResumeSession(sessionId))))
            .WithName("ResumeSession").WithSummary("Restarts the agent of a suspended, closed or crashed session and restores its conversation")
            .WithDescription("Same session id; seq continues. A running session is returned as it is.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status502BadGateway)
            .RequireAuthorization(ApiPolicies.Write);

        session.MapPost("/close", async (string vm, string sessionId, IGrainFactory grains) =>
            {
                await grains.Grain(vm).CloseSession(sessionId);
                return TypedResults.NoContent();
            })
            .WithName("CloseSession").WithSummary("Stops the session's agent gracefully; keeps every event (it can be resumed)")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(ApiPolicies.Write);

        session.MapDelete("", async (string vm, string sessionId, IGrainFactory grains) =>
            {
                await grains.Grain(vm).DestroySession(sessionId);
                return TypedResults.NoContent();
            })
            .WithName("DestroySession").WithSummary("Stops the session's agent and deletes the session and all its events")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(ApiPolicies.Write);
    }

    public static SessionInfoResponse ToResponse(SessionInfo info) => new()
    {
        SessionId = info.SessionId,
        AgentType = info.AgentType,
        Capabilities = Json(info.Capabilities.Json),
        AgentInfo = info.AgentInfo,
        Modes = info.Modes,
        ConfigOptions = info.ConfigOptions,
        Models = info.Models,
        AcpSessionId = info.AcpSessionId,
        ProcessId = info.ProcessId,
    };

    private static CreateSessionOptions ToOptions(CreateSessionRequest request) => new()
    {
        Env = request.Env,
        Cwd = request.Cwd,
        McpServers = request.McpServers?.Select(ToMcpServer).ToList(),
        AdditionalInstructions = request.AdditionalInstructions,
        SkipOsInstructions = request.SkipOsInstructions,
        PermissionPolicy = request.PermissionPolicy ?? PermissionPolicy.AllowAll,
        PermissionTimeout = request.PermissionTimeoutSeconds is { } seconds
            ? (double.IsFinite(seconds) && seconds > 0 && seconds <= TimeSpan.MaxValue.TotalSeconds ? TimeSpan.FromSeconds(seconds)
                : throw new AgentOsException(AgentOsErrorCode.InvalidArgument, $"permissionTimeoutSeconds is {seconds}; it must be a number of seconds above zero."))
            : null,
        Limits = request.Limits,
    };

    /// <summary>The reference docs' <c>{ type: "local" | "remote", … }</c>; the grain checks the rest (a command or a URL, not both).</summary>
    private static McpServerConfig ToMcpServer(McpServerRequest server, int index)
    {
        if (server.Type is not (null or "local" or "remote"))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, $"mcpServers[{index}].type is '{server.Type}'; it is 'local' (a command) or 'remote' (a url).");
        }

        if ((server.Type == "local" && server.Url is not null) || (server.Type == "remote" && server.Command is not null))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, $"mcpServers[{index}] is '{server.Type}' but has a {(server.Url is null ? "command" : "url")}: a local server has a command, a remote one a url.");
        }

        return new McpServerConfig
        {
            Name = server.Name ?? $"mcp-{index}",
            Command = server.Command,
            Args = server.Args,
            Env = server.Env,
            Url = server.Url,
            Headers = server.Headers,
            Transport = server.Transport,
        };
    }

    /// <summary>Raw JSON the server recorded, as a value to write on.</summary>
    public static JsonElement Json(string json)
    {
        using var document = JsonDocument.Parse(string.IsNullOrEmpty(json) ? "{}" : json);
        return document.RootElement.Clone();
    }
}
