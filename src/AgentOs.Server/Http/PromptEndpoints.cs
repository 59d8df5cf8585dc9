using AgentOs.Server.Http.Auth;

namespace AgentOs.Server.Http;

/// <summary><c>…/sessions/{sessionId}/prompt</c> and <c>/cancel</c>.</summary>
internal static class PromptEndpoints
{
    public static void Map(RouteGroupBuilder session)
    {
        session.MapPost("/prompt", async (string vm, string sessionId, PromptRequest request, bool? cancelOnDisconnect, IGrainFactory grains, HttpContext context) =>
            {
                var grain = grains.Grain(vm);
                Task<PromptResult> turn;
                if (request.Content is { Count: > 0 } blocks)
                {
                    turn = request.Text is null
                        ? grain.SendPromptContent(sessionId, blocks)
                        : throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "The prompt has both text and content; send one of them.") { SessionId = sessionId };
                }
                else
                {
                    turn = grain.SendPrompt(sessionId, request.Text ?? "");
                }

                try
                {
                    // The turn runs on in the VM whether or not this client stays: it only stops waiting.
                    return TypedResults.Ok(await turn.WaitAsync(context.RequestAborted));
                }
                catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
                {
                    if (cancelOnDisconnect == true)
                    {
                        _ = grain.CancelPrompt(sessionId).ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
                    }

                    _ = turn.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default); // observed: nobody waits for it now
                    throw;
                }
            })
            .WithName("SendPrompt").WithSummary("Runs one prompt turn and returns its result when it ends")
            .WithDescription("ACP session/prompt. Events stream meanwhile (GET …/events/stream). A prompt sent while a turn runs is queued; " +
                "past AgentOs:MaxQueuedPrompts waiting ones: 409 SessionBusy. A prompt over AgentOs:MaxPromptLength characters: 413. " +
                "A suspended session is resumed first. A client that disconnects does not end the turn unless it asked to with ?cancelOnDisconnect=true " +
                "(which cancels the session's running turn, as POST …/cancel does).")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status502BadGateway).ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .RequireAuthorization(ApiPolicies.Write);

        session.MapPost("/cancel", async (string vm, string sessionId, IGrainFactory grains) =>
            {
                await grains.Grain(vm).CancelPrompt(sessionId);
                return TypedResults.NoContent();
            })
            .WithName("CancelPrompt").WithSummary("Cancels the running turn (ACP session/cancel); its prompt returns with stop reason cancelled")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(ApiPolicies.Write);
    }
}
