using AgentOs.Server.Http.Auth;

namespace AgentOs.Server.Http;

/// <summary><c>…/sessions/{sessionId}/permissions</c> and <c>…/elicitations</c>: the agent's questions waiting for the client, and the answers.</summary>
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

        session.MapGet("/elicitations", async (string vm, string sessionId, IGrainFactory grains) =>
                TypedResults.Ok<IReadOnlyList<PendingElicitationResponse>>((await grains.Grain(vm).GetPendingElicitations(sessionId)).Select(e => new PendingElicitationResponse
                {
                    RequestId = e.RequestId,
                    Mode = e.Mode,
                    Message = e.Message,
                    RequestedSchema = e.RequestedSchema is null ? null : SessionEndpoints.Json(e.RequestedSchema),
                    Url = e.Url,
                    ElicitationId = e.ElicitationId,
                    ToolCallId = e.ToolCallId,
                    Params = SessionEndpoints.Json(e.Params),
                    RequestedAt = e.RequestedAt,
                    ExpiresAt = e.ExpiresAt,
                }).ToList()))
            .WithName("GetPendingElicitations").WithSummary("The session's elicitations (the agent asking the user for input) waiting for an answer, oldest first")
            .WithDescription("For sessions created with permissionPolicy ask, the only policy that advertises elicitation to the agent. Empty when the agent is not running.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(ApiPolicies.Read);

        session.MapPost("/elicitations/{requestId:long}", async (string vm, string sessionId, long requestId, ElicitationAnswerRequest answer, IGrainFactory grains) =>
            {
                await grains.Grain(vm).RespondElicitation(sessionId, requestId, new ElicitationAnswer
                {
                    Action = answer.Action,
                    ContentJson = answer.Content is { ValueKind: not System.Text.Json.JsonValueKind.Null and not System.Text.Json.JsonValueKind.Undefined } content ? content.GetRawText() : null,
                });
                return TypedResults.NoContent();
            })
            .WithName("RespondElicitation").WithSummary("Answers a waiting elicitation: accept (with the form's fields as content), decline or cancel")
            .WithDescription("requestId is the seq of the request's elicitation/create event. 409 ElicitationNotPending when no such elicitation waits; 400 for content that does not fit the form (the elicitation keeps waiting).")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .RequireAuthorization(ApiPolicies.Write);
    }
}
