using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace AgentOs.Acp;

/// <summary>
/// The typed ACP methods a client calls on an agent: one method per ACP method, its name from
/// <see cref="AcpMethods"/> and its types from <see cref="AcpJsonContext"/>, so callers write neither.
/// </summary>
/// <remarks>
/// Every request takes a timeout covering the write and the wait for the answer
/// (<see cref="AcpConnectionOptions.DefaultRequestTimeout"/> when null; ACP.md suggests initialize
/// 10 s, session/new 30 s, prompt 10 min) and a token that stops waiting. They throw
/// <see cref="AcpRemoteException"/> for a JSON-RPC error, <see cref="AcpTimeoutException"/>,
/// <see cref="AcpConnectionClosedException"/>, and <see cref="AcpException"/> for an answer that
/// does not match the schema.
/// </remarks>
public sealed partial class AcpConnection
{
    /// <summary>ACP <c>initialize</c>: the first request of a connection; always send <see cref="AcpMethods.ProtocolVersion"/>.</summary>
    public Task<InitializeResponse> InitializeAsync(InitializeRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        SendRequestAsync(AcpMethods.Initialize, request, AcpJsonContext.Default.InitializeRequest, AcpJsonContext.Default.InitializeResponse, timeout, cancellationToken);

    /// <summary>ACP <c>session/new</c>: creates a session; the answer carries its id, modes, models and config options.</summary>
    public Task<SessionSetupResponse> NewSessionAsync(NewSessionRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        SendRequestAsync(AcpMethods.SessionNew, request, AcpJsonContext.Default.NewSessionRequest, AcpJsonContext.Default.SessionSetupResponse, timeout, cancellationToken);

    /// <summary>
    /// ACP <c>session/load</c> (when <c>agentCapabilities.loadSession</c>): the agent replays the
    /// session's history as <c>session/update</c> notifications, then answers.
    /// </summary>
    /// <param name="request">The session to load.</param>
    /// <param name="timeout">See the type's remarks.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <param name="onResponse">
    /// Runs on the read loop the moment the answer is read, before any later line: the boundary
    /// between the replayed history and what the agent sends afterwards.
    /// </param>
    public Task<SessionSetupResponse> LoadSessionAsync(LoadSessionRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default, Action? onResponse = null) =>
        SendRequestAsync(AcpMethods.SessionLoad, request, AcpJsonContext.Default.LoadSessionRequest, AcpJsonContext.Default.SessionSetupResponse, timeout, cancellationToken, onResponse);

    /// <summary>ACP <c>session/resume</c> (when <c>agentCapabilities.sessionCapabilities.resume</c>): reopens a session without a replay.</summary>
    public Task<SessionSetupResponse> ResumeSessionAsync(ResumeSessionRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        SendRequestAsync(AcpMethods.SessionResume, request, AcpJsonContext.Default.ResumeSessionRequest, AcpJsonContext.Default.SessionSetupResponse, timeout, cancellationToken);

    /// <summary>
    /// ACP <c>session/prompt</c>: one turn. The agent streams <c>session/update</c> notifications
    /// meanwhile and answers with the stop reason when the turn ends.
    /// </summary>
    public Task<PromptResponse> PromptAsync(PromptRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        SendRequestAsync(AcpMethods.SessionPrompt, request, AcpJsonContext.Default.PromptRequest, AcpJsonContext.Default.PromptResponse, timeout, cancellationToken);

    /// <summary>
    /// ACP <c>session/cancel</c>, a notification: asks the agent to end the running turn, which it
    /// then answers with stop reason <c>cancelled</c>. Completes once the line is written (there is
    /// no answer to wait for, hence no timeout).
    /// </summary>
    public Task CancelAsync(SessionIdParams notification, CancellationToken cancellationToken = default) =>
        SendNotificationAsync(AcpMethods.SessionCancel, notification, AcpJsonContext.Default.SessionIdParams, cancellationToken);

    /// <summary>ACP <c>session/set_mode</c>. The answer carries nothing but <c>_meta</c>; a <c>null</c> result is accepted as empty.</summary>
    public Task<SetModeResponse> SetModeAsync(SetModeRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        SendAcknowledgedAsync(AcpMethods.SessionSetMode, request, AcpJsonContext.Default.SetModeRequest, AcpJsonContext.Default.SetModeResponse, timeout, cancellationToken);

    /// <summary>
    /// <c>session/set_model</c>: removed from the ACP schema in favour of a config option of category
    /// <c>model</c> (<see cref="SetConfigOptionAsync"/>), but still what the pinned pi and Claude Code
    /// adapters accept. A <c>null</c> result is accepted as empty.
    /// </summary>
    public Task<SetModelResponse> SetModelAsync(SetModelRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        SendAcknowledgedAsync(AcpMethods.SessionSetModel, request, AcpJsonContext.Default.SetModelRequest, AcpJsonContext.Default.SetModelResponse, timeout, cancellationToken);

    /// <summary>ACP <c>session/set_config_option</c>: the answer is the full list of config options with their new values.</summary>
    public Task<ConfigOptionsPayload> SetConfigOptionAsync(SetConfigOptionRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        SendRequestAsync(AcpMethods.SessionSetConfigOption, request, AcpJsonContext.Default.SetConfigOptionRequest, AcpJsonContext.Default.ConfigOptionsPayload, timeout, cancellationToken);

    /// <summary>
    /// ACP <c>session/close</c>: the agent cancels the session's work and frees it. Only when the agent
    /// advertises <c>agentCapabilities.sessionCapabilities.close</c>: it is a stable method of the current
    /// v1 schema (<c>schema/v1/meta.json</c>) but was unstable before, and the pinned pi and Claude Code
    /// adapters answer it with -32601. A <c>null</c> result is accepted as empty.
    /// </summary>
    public Task<CloseSessionResponse> CloseSessionAsync(CloseSessionRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        SendAcknowledgedAsync(AcpMethods.SessionClose, request, AcpJsonContext.Default.CloseSessionRequest, AcpJsonContext.Default.CloseSessionResponse, timeout, cancellationToken);

    /// <summary>
    /// ACP <c>session/delete</c>: the agent deletes what it keeps of the session (its history, for <c>session/list</c>).
    /// Only when the agent advertises <c>agentCapabilities.sessionCapabilities.delete</c>.
    /// </summary>
    public Task<CloseSessionResponse> DeleteSessionAsync(CloseSessionRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        SendAcknowledgedAsync(AcpMethods.SessionDelete, request, AcpJsonContext.Default.CloseSessionRequest, AcpJsonContext.Default.CloseSessionResponse, timeout, cancellationToken);

    /// <summary>
    /// A request whose answer is an acknowledgement (an object with at most <c>_meta</c>): agents
    /// answer these with <c>{}</c>, <c>null</c> or anything else, and all of them mean "done".
    /// </summary>
    private async Task<TResult> SendAcknowledgedAsync<TParams, TResult>(
        string method, TParams parameters, JsonTypeInfo<TParams> paramsType, JsonTypeInfo<TResult> resultType, TimeSpan? timeout, CancellationToken cancellationToken)
        where TResult : new()
    {
        var result = await SendRequestCoreAsync(method, w => JsonSerializer.Serialize(w, parameters, paramsType), timeout, cancellationToken).ConfigureAwait(false);
        if (result.ValueKind != JsonValueKind.Object)
        {
            return new TResult();
        }

        // Their only member is _meta, kept as raw JSON: any object deserializes.
        return result.Deserialize(resultType) ?? new TResult();
    }
}
