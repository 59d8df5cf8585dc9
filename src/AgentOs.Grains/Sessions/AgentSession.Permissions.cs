using System.Collections.Concurrent;
using System.Text.Json;
using AgentOs.Acp;

namespace AgentOs.Sessions;

/// <summary>
/// Permission requests (<c>session/request_permission</c>): answered by the session's
/// <see cref="PermissionPolicy"/> through its <see cref="PermissionBroker"/>. Under
/// <see cref="PermissionPolicy.Ask"/> a request waits for <see cref="RespondPermissionAsync"/>, its
/// timeout, a cancelled turn or the agent's stop, whichever comes first: the agent is never left waiting.
/// </summary>
internal sealed partial class AgentSession
{
    private readonly ConcurrentDictionary<Task, bool> _permissionAnswers = new();
    private PermissionBroker _permissions = null!;

    /// <summary>A client's answer to the waiting request recorded with seq <paramref name="requestId"/>.</summary>
    public Task RespondPermissionAsync(long requestId, string optionId) => _permissions.RespondAsync(requestId, optionId);

    /// <summary>The requests waiting for a client's answer.</summary>
    public Task<IReadOnlyList<PendingPermission>> PendingPermissionsAsync() => _permissions.ListAsync();

    private void CreatePermissionBroker(CreateSessionOptions options) =>
        _permissions = new PermissionBroker(SessionId, options.PermissionPolicy, options.PermissionTimeout ?? Options.PermissionTimeout);

    private async Task<(AcpReply Reply, string Reason)> AnswerPermissionAsync(JsonElement @params, string paramsJson, Task<long> recorded)
    {
        var request = @params.Deserialize(AcpJsonContext.Default.RequestPermissionRequest)
            ?? throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "session/request_permission needs options.");
        var answer = await _permissions.DecideAsync(request.Options, paramsJson, recorded).ConfigureAwait(false);
        var reply = AcpReply.Result(JsonSerializer.Serialize(new RequestPermissionResponse { Outcome = answer.Outcome }, AcpJsonContext.Default.RequestPermissionResponse));
        return (reply, answer.Reason);
    }

    /// <summary>Keeps the answer task of a permission request until it is done, so a stop can wait for the answers it forced.</summary>
    private void TrackPermissionAnswer(Task answer)
    {
        _permissionAnswers[answer] = true;
        _ = answer.ContinueWith(t => _permissionAnswers.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// Answers every waiting permission request with <c>cancelled</c> and waits (briefly) until those answers
    /// are recorded and on their way to the agent. With <paramref name="final"/> later requests get the same.
    /// </summary>
    private async Task CancelPermissionsAsync(string reason, bool final)
    {
        _permissions.CancelAll(reason, final);
        var answers = _permissionAnswers.Keys.ToArray();
        if (answers.Length > 0)
        {
            await Task.WhenAll(answers).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
