using System.Collections.Concurrent;
using System.Text.Json;
using AgentOs.Acp;

namespace AgentOs.Sessions;

/// <summary>
/// The agent's requests a client may have to answer: permission requests (<c>session/request_permission</c>) and elicitations
/// (<c>elicitation/create</c>), both answered by the session's <see cref="PermissionPolicy"/> through one <see cref="AnswerBroker"/>.
/// Under <see cref="PermissionPolicy.Ask"/> a request waits for <see cref="RespondPermissionAsync"/> or
/// <see cref="RespondElicitationAsync"/>, its timeout, a cancelled turn or the agent's stop, whichever comes first: the agent is
/// never left waiting.
/// </summary>
internal sealed partial class AgentSession
{
    private readonly ConcurrentDictionary<Task, bool> _brokeredAnswers = new();
    private AnswerBroker _answers = null!;

    /// <summary>Whether the agent is offered elicitation in <c>initialize</c>: only when a client is there to answer (<see cref="PermissionPolicy.Ask"/>).</summary>
    private bool OffersElicitation => _answers.Policy == PermissionPolicy.Ask;

    /// <summary>A client's answer to the waiting permission request recorded with seq <paramref name="requestId"/>.</summary>
    public Task RespondPermissionAsync(long requestId, string optionId) =>
        _answers.RespondAsync<PermissionQuestion>(requestId, AcpMethods.SessionRequestPermission, AgentOsErrorCode.PermissionNotPending,
            q => q.Select(requestId, optionId, SessionId));

    /// <summary>A client's answer to the waiting elicitation recorded with seq <paramref name="requestId"/>.</summary>
    public Task RespondElicitationAsync(long requestId, ElicitationAnswer answer) =>
        _answers.RespondAsync<ElicitationQuestion>(requestId, AcpMethods.ElicitationCreate, AgentOsErrorCode.ElicitationNotPending,
            q => q.Answer(requestId, answer, SessionId));

    /// <summary>The permission requests waiting for a client's answer.</summary>
    public async Task<IReadOnlyList<PendingPermission>> PendingPermissionsAsync() =>
        [.. (await _answers.ListAsync(AcpMethods.SessionRequestPermission).ConfigureAwait(false)).Select(w => new PendingPermission
        {
            RequestId = w.Seq,
            Options = [.. ((PermissionQuestion)w.Question).Options.Select(o => new PermissionOption(o.OptionId, o.Name, o.Kind))],
            Params = w.ParamsJson,
            RequestedAt = w.RequestedAt,
            ExpiresAt = w.ExpiresAt,
        })];

    /// <summary>The elicitations waiting for a client's answer.</summary>
    public async Task<IReadOnlyList<PendingElicitation>> PendingElicitationsAsync() =>
        [.. (await _answers.ListAsync(AcpMethods.ElicitationCreate).ConfigureAwait(false)).Select(w =>
        {
            var question = (ElicitationQuestion)w.Question;
            return new PendingElicitation
            {
                RequestId = w.Seq,
                Mode = question.Mode,
                Message = question.Message,
                RequestedSchema = question.RequestedSchemaJson,
                Url = question.Url,
                ElicitationId = question.ElicitationId,
                ToolCallId = question.ToolCallId,
                Params = w.ParamsJson,
                RequestedAt = w.RequestedAt,
                ExpiresAt = w.ExpiresAt,
            };
        })];

    private void CreateAnswerBroker(CreateSessionOptions options) =>
        _answers = new AnswerBroker(SessionId, options.PermissionPolicy, options.PermissionTimeout ?? Options.PermissionTimeout);

    private async Task<(AcpReply Reply, string Reason)> AnswerPermissionAsync(JsonElement @params, string paramsJson, Task<long> recorded)
    {
        var request = @params.Deserialize(AcpJsonContext.Default.RequestPermissionRequest)
            ?? throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "session/request_permission needs options.");
        var answer = await _answers.DecideAsync(new PermissionQuestion(request.Options), paramsJson, recorded).ConfigureAwait(false);
        return (AcpReply.Result(answer.ResultJson), answer.Reason);
    }

    private async Task<(AcpReply Reply, string Reason)> AnswerElicitationAsync(JsonElement @params, string paramsJson, Task<long> recorded)
    {
        var answer = await _answers.DecideAsync(new ElicitationQuestion(@params), paramsJson, recorded).ConfigureAwait(false);
        return (AcpReply.Result(answer.ResultJson), answer.Reason);
    }

    /// <summary>Keeps the answer task of a brokered request until it is done, so a stop can wait for the answers it forced.</summary>
    private void TrackBrokeredAnswer(Task answer)
    {
        _brokeredAnswers[answer] = true;
        _ = answer.ContinueWith(t => _brokeredAnswers.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// Answers every waiting permission request and elicitation as cancelled and waits (briefly) until those answers are
    /// recorded and on their way to the agent. With <paramref name="final"/> later requests get the same.
    /// </summary>
    private async Task CancelWaitingAnswersAsync(string reason, bool final)
    {
        _answers.CancelAll(reason, final);
        var answers = _brokeredAnswers.Keys.ToArray();
        if (answers.Length > 0)
        {
            await Task.WhenAll(answers).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
