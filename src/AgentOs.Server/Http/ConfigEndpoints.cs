using AgentOs.Server.Http.Auth;

namespace AgentOs.Server.Http;

/// <summary><c>…/sessions/{sessionId}</c> runtime configuration (modes, config options, mode, model, thought level) and usage.</summary>
internal static class ConfigEndpoints
{
    public static void Map(RouteGroupBuilder session)
    {
        session.MapGet("/modes", async (string vm, string sessionId, IGrainFactory grains) => TypedResults.Ok(await grains.Grain(vm).GetModes(sessionId)))
            .WithName("GetModes").WithSummary("The session's modes: the current one and those the agent offers (null when it offers none)")
            .WithDescription("Live sessions only: 404 UnknownSession for a suspended, closed or crashed one (resume it first).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(ApiPolicies.Read);

        session.MapGet("/models", async (string vm, string sessionId, IGrainFactory grains) => TypedResults.Ok(await grains.Grain(vm).GetModels(sessionId)))
            .WithName("GetModels").WithSummary("The session's models as the agent offered them in ACP models: the current one and the list (null when it offers none)")
            .WithDescription("What agents without a config option of category model offer (pi and Claude Code today); PUT …/model switches. Live sessions only: 404 UnknownSession for a suspended, closed or crashed one.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(ApiPolicies.Read);

        session.MapGet("/config-options", async (string vm, string sessionId, IGrainFactory grains) => TypedResults.Ok(await grains.Grain(vm).GetConfigOptions(sessionId)))
            .WithName("GetConfigOptions").WithSummary("The session's config options (category mode, model, thought_level, …) with their current values")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(ApiPolicies.Read);

        session.MapPut("/mode", async (string vm, string sessionId, SetModeRequest request, IGrainFactory grains) =>
            {
                await grains.Grain(vm).SetMode(sessionId, request.ModeId);
                return TypedResults.NoContent();
            })
            .WithName("SetMode").WithSummary("Switches the session's mode")
            .WithDescription("ACP session/set_config_option on the agent's mode option, else session/set_mode. 400 for a mode the agent does not offer (the detail lists those it does); 502 when the agent refuses.")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status502BadGateway)
            .RequireAuthorization(ApiPolicies.Write);

        session.MapPut("/model", async (string vm, string sessionId, SetModelRequest request, IGrainFactory grains) =>
            {
                await grains.Grain(vm).SetModel(sessionId, request.ModelId);
                return TypedResults.NoContent();
            })
            .WithName("SetModel").WithSummary("Switches the session's model")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status502BadGateway)
            .RequireAuthorization(ApiPolicies.Write);

        session.MapPut("/thought-level", async (string vm, string sessionId, SetThoughtLevelRequest request, IGrainFactory grains) =>
            {
                await grains.Grain(vm).SetThoughtLevel(sessionId, request.Level);
                return TypedResults.NoContent();
            })
            .WithName("SetThoughtLevel").WithSummary("Sets the session's thought level (the agent's thought_level config option)")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status502BadGateway)
            .RequireAuthorization(ApiPolicies.Write);

        session.MapGet("/usage", async (string vm, string sessionId, IGrainFactory grains) => TypedResults.Ok(await grains.Grain(vm).GetUsage(sessionId)))
            .WithName("GetUsage").WithSummary("The session's tokens summed over its turns, and the agent's last context and cost figures")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(ApiPolicies.Read);
    }
}
