using AgentOs.Server.Http.Auth;

namespace AgentOs.Server.Http;

/// <summary><c>…/sessions/{sessionId}/permissions</c>: the agent's requests waiting for the client, and the answers.</summary>
internal static class PermissionEndpoints
{
    public static void Map(RouteGroupBuilder session)
    {
        session.MapGet("/permissions", async (string vm, string sessionId, IGrainFactory grains) =>
                TypedResults.Ok<IReadOnlyList<PendingPermissionResponse>>((await grains.Grain(vm).GetPendingPermissions(sessionId)).Select(p => new PendingPermissionResponse
                {
                    RequestId = p.RequestId,
                    Options = p.Options,
                    Params = SessionEndpoints.Json(p.Params),
                    RequestedAt = p.RequestedAt,
                    ExpiresAt = p.ExpiresAt,
                }).ToList()))
            .WithName("GetPendingPermissions").WithSummary("The session's permission requests waiting for an answer, oldest first")
            .WithDescription("For sessions created with permissionPolicy ask. Empty when the agent is not running.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(ApiPolicies.Read);

        session.MapPost("/permissions/{requestId:long}", async (string vm, string sessionId, long requestId, PermissionAnswer answer, IGrainFactory grains) =>
            {
                await grains.Grain(vm).RespondPermission(sessionId, requestId, answer.OptionId);
                return TypedResults.NoContent();
            })
            .WithName("RespondPermission").WithSummary("Answers a waiting permission request with one of its options")
            .WithDescription("requestId is the seq of the request's session/request_permission event. 409 PermissionNotPending when no such request waits; 400 for an option the agent did not offer.")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .RequireAuthorization(ApiPolicies.Write);

        // ELICITATIONS: the grain's GetPendingElicitations / RespondElicitation (another branch) map here, as the two above:
        //   session.MapGet("/elicitations", …GetPendingElicitations(sessionId)…).RequireAuthorization(ApiPolicies.Read);
        //   session.MapPost("/elicitations/{requestId:long}", …RespondElicitation(sessionId, requestId, answer)…).RequireAuthorization(ApiPolicies.Write);
        // plus their request/response types in HttpContracts.cs (and HttpJsonContext) and OpenApiContractTests' expected operations.
    }
}
