using System.Reactive.Linq;

namespace AgentOs.Client;

/// <summary>
/// A typed handle to one VM: its sessions, and every session's live events. Cheap to create;
/// every call goes to the VM's grain. A session's own calls live on its <see cref="SessionHandle"/>
/// (<see cref="CreateSessionAsync"/>, <see cref="Session"/>); the session-id calls here are the same
/// calls, for code that keeps ids.
/// </summary>
/// <remarks>
/// Cancelling a call's <see cref="CancellationToken"/> makes the caller stop waiting; a call the
/// server already received runs to its end there (see <see cref="SessionHandle"/>).
/// </remarks>
public sealed class VmHandle
{
    internal VmHandle(IClusterClient client, string vmId, ConnectionMonitor connection)
    {
        Client = client;
        Connection = connection;
        Id = vmId;
        Grain = client.GetGrain<IVmGrain>(vmId);
        SessionEvents = Observable.Create<SessionEvent>(async (observer, cancellationToken) =>
        {
            var subscription = await SubscribeAsync(observer, cancellationToken).ConfigureAwait(false);
            return (IDisposable)new LiveSubscription.SyncUnsubscriber(subscription);
        });
    }

    /// <summary>The VM id.</summary>
    public string Id { get; }

    /// <summary>The underlying grain, for calls this handle does not wrap.</summary>
    public IVmGrain Grain { get; }

    internal IClusterClient Client { get; }

    internal ConnectionMonitor Connection { get; }

    /// <summary>
    /// Every event of every session of this VM, live, in seq order per session, each only after it
    /// was committed. The subscription is set up asynchronously; to be sure it is in place before a
    /// prompt, use <see cref="SubscribeAsync"/>. Earlier events come from <see cref="GetEventsAsync"/>;
    /// one session's history and live events, from <see cref="SessionHandle.StreamEventsAsync"/>.
    /// </summary>
    public IObservable<SessionEvent> SessionEvents { get; }

    /// <inheritdoc cref="IVmGrain.CreateSession"/>
    /// <returns>A handle to the new session, its <see cref="SessionHandle.Info"/> set.</returns>
    /// <param name="agentType">The agent type (a software package the server knows).</param>
    /// <param name="options">Working directory, environment, MCP servers, permission policy, instructions.</param>
    /// <param name="cancellationToken">
    /// Stops waiting: a session the server started creating is still created (it then shows in
    /// <see cref="ListPersistedSessionsAsync"/>).
    /// </param>
    public async Task<SessionHandle> CreateSessionAsync(string agentType, CreateSessionOptions? options = null, CancellationToken cancellationToken = default)
    {
        var info = await Connection.CallAsync(() => Grain.CreateSession(agentType, options), "CreateSession", cancellationToken).ConfigureAwait(false);
        return new SessionHandle(this, info.SessionId, info);
    }

    /// <summary>A handle to the existing session <paramref name="sessionId"/>; no server call (its <see cref="SessionHandle.Info"/> is null).</summary>
    public SessionHandle Session(string sessionId)
    {
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        return new SessionHandle(this, sessionId, info: null);
    }

    /// <inheritdoc cref="SessionHandle.SendPromptAsync(string, CancellationToken)"/>
    public Task<PromptResult> SendPromptAsync(string sessionId, string prompt, CancellationToken cancellationToken = default) =>
        Session(sessionId).SendPromptAsync(prompt, cancellationToken);

    /// <inheritdoc cref="SessionHandle.SendPromptAsync(IReadOnlyList{PromptContent}, CancellationToken)"/>
    public Task<PromptResult> SendPromptAsync(string sessionId, IReadOnlyList<PromptContent> prompt, CancellationToken cancellationToken = default) =>
        Session(sessionId).SendPromptAsync(prompt, cancellationToken);

    /// <inheritdoc cref="SessionHandle.CancelAsync"/>
    public Task CancelPromptAsync(string sessionId, CancellationToken cancellationToken = default) =>
        Session(sessionId).CancelAsync(cancellationToken);

    /// <inheritdoc cref="SessionHandle.RespondPermissionAsync"/>
    public Task RespondPermissionAsync(string sessionId, long requestId, string optionId, CancellationToken cancellationToken = default) =>
        Session(sessionId).RespondPermissionAsync(requestId, optionId, cancellationToken);

    /// <inheritdoc cref="SessionHandle.GetPendingPermissionsAsync"/>
    public Task<IReadOnlyList<PendingPermission>> GetPendingPermissionsAsync(string sessionId, CancellationToken cancellationToken = default) =>
        Session(sessionId).GetPendingPermissionsAsync(cancellationToken);

    /// <inheritdoc cref="SessionHandle.RespondElicitationAsync"/>
    public Task RespondElicitationAsync(string sessionId, long requestId, ElicitationAnswer answer, CancellationToken cancellationToken = default) =>
        Session(sessionId).RespondElicitationAsync(requestId, answer, cancellationToken);

    /// <inheritdoc cref="SessionHandle.GetPendingElicitationsAsync"/>
    public Task<IReadOnlyList<PendingElicitation>> GetPendingElicitationsAsync(string sessionId, CancellationToken cancellationToken = default) =>
        Session(sessionId).GetPendingElicitationsAsync(cancellationToken);

    /// <inheritdoc cref="SessionHandle.GetUsageAsync"/>
    public Task<SessionUsage> GetUsageAsync(string sessionId, CancellationToken cancellationToken = default) =>
        Session(sessionId).GetUsageAsync(cancellationToken);

    /// <inheritdoc cref="SessionHandle.GetModesAsync"/>
    public Task<SessionModes?> GetModesAsync(string sessionId, CancellationToken cancellationToken = default) =>
        Session(sessionId).GetModesAsync(cancellationToken);

    /// <inheritdoc cref="SessionHandle.GetModelsAsync"/>
    public Task<SessionModels?> GetModelsAsync(string sessionId, CancellationToken cancellationToken = default) =>
        Session(sessionId).GetModelsAsync(cancellationToken);

    /// <inheritdoc cref="SessionHandle.GetConfigOptionsAsync"/>
    public Task<IReadOnlyList<ConfigOption>> GetConfigOptionsAsync(string sessionId, CancellationToken cancellationToken = default) =>
        Session(sessionId).GetConfigOptionsAsync(cancellationToken);

    /// <inheritdoc cref="SessionHandle.SetModeAsync"/>
    public Task SetModeAsync(string sessionId, string modeId, CancellationToken cancellationToken = default) =>
        Session(sessionId).SetModeAsync(modeId, cancellationToken);

    /// <inheritdoc cref="SessionHandle.SetModelAsync"/>
    public Task SetModelAsync(string sessionId, string modelId, CancellationToken cancellationToken = default) =>
        Session(sessionId).SetModelAsync(modelId, cancellationToken);

    /// <inheritdoc cref="SessionHandle.SetThoughtLevelAsync"/>
    public Task SetThoughtLevelAsync(string sessionId, string level, CancellationToken cancellationToken = default) =>
        Session(sessionId).SetThoughtLevelAsync(level, cancellationToken);

    /// <inheritdoc cref="SessionHandle.ResumeAsync"/>
    public Task<SessionInfo> ResumeSessionAsync(string sessionId, CancellationToken cancellationToken = default) =>
        Session(sessionId).ResumeAsync(cancellationToken);

    /// <inheritdoc cref="SessionHandle.CloseAsync"/>
    public Task CloseSessionAsync(string sessionId, CancellationToken cancellationToken = default) =>
        Session(sessionId).CloseAsync(cancellationToken);

    /// <inheritdoc cref="SessionHandle.DestroyAsync"/>
    public Task DestroySessionAsync(string sessionId, CancellationToken cancellationToken = default) =>
        Session(sessionId).DestroyAsync(cancellationToken);

    /// <inheritdoc cref="IVmGrain.DestroyVm"/>
    /// <param name="cancellationToken">Stops waiting; a destroy the server received goes ahead.</param>
    public Task DestroyAsync(CancellationToken cancellationToken = default) =>
        Connection.CallAsync(() => Grain.DestroyVm(), "DestroyVm", cancellationToken);

    /// <inheritdoc cref="IVmGrain.Sleep"/>
    /// <param name="cancellationToken">Stops waiting; a sleep the server received goes ahead.</param>
    public Task SleepAsync(CancellationToken cancellationToken = default) =>
        Connection.CallAsync(() => Grain.Sleep(), "Sleep", cancellationToken);

    /// <summary>The persisted transcript of a session, seq 1..N (works while the VM sleeps; never starts an agent). Same as <see cref="GetEventsAsync"/>.</summary>
    /// <param name="sessionId">The session.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<IReadOnlyList<SessionEvent>> GetSessionEventsAsync(string sessionId, CancellationToken cancellationToken = default) =>
        GetEventsAsync(sessionId, cancellationToken);

    /// <inheritdoc cref="SessionHandle.GetEventsAsync(CancellationToken)"/>
    /// <param name="sessionId">The session.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<IReadOnlyList<SessionEvent>> GetEventsAsync(string sessionId, CancellationToken cancellationToken = default) =>
        Session(sessionId).GetEventsAsync(cancellationToken);

    /// <inheritdoc cref="SessionHandle.GetEventsAsync(long, int, CancellationToken)"/>
    /// <param name="sessionId">The session.</param>
    /// <param name="since">Events with a seq greater than this; 0 for the first.</param>
    /// <param name="limit">At most this many.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<IReadOnlyList<SessionEvent>> GetSequencedEventsAsync(string sessionId, long since, int limit = 10_000, CancellationToken cancellationToken = default) =>
        Session(sessionId).GetEventsAsync(since, limit, cancellationToken);

    /// <inheritdoc cref="IVmGrain.ListPersistedSessions"/>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<IReadOnlyList<PersistedSession>> ListPersistedSessionsAsync(CancellationToken cancellationToken = default) =>
        Connection.CallAsync(() => Grain.ListPersistedSessions(), "ListPersistedSessions", cancellationToken);

    /// <inheritdoc cref="IVmGrain.GetVmInfo"/>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<VmInfo> GetInfoAsync(CancellationToken cancellationToken = default) =>
        Connection.CallAsync(() => Grain.GetVmInfo(), "GetVmInfo", cancellationToken);

    /// <inheritdoc cref="IVmGrain.ListSessions"/>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<IReadOnlyList<string>> ListSessionsAsync(CancellationToken cancellationToken = default) =>
        Connection.CallAsync(() => Grain.ListSessions(), "ListSessions", cancellationToken);

    /// <summary>
    /// Subscribes <paramref name="observer"/> to this VM's live events (every session's) and returns
    /// once the subscription is in place: every event committed after this returns is delivered.
    /// Dispose the result to unsubscribe.
    /// </summary>
    public Task<IAsyncDisposable> SubscribeAsync(IObserver<SessionEvent> observer, CancellationToken cancellationToken = default) =>
        LiveSubscription.SubscribeAsync(Client, Id, sessionId: null, observer, cancellationToken);

    /// <summary>
    /// <see cref="SessionHandle.StreamEventsAsync"/> of session <paramref name="sessionId"/>: history
    /// then live, each seq exactly once, in order, with no gap.
    /// </summary>
    /// <param name="sessionId">The session to read.</param>
    /// <param name="afterSeq">The last seq the caller already has; 0 for the whole session.</param>
    /// <param name="cancellationToken">Ends the enumeration (with <see cref="OperationCanceledException"/>).</param>
    public IAsyncEnumerable<SessionEvent> StreamSessionEventsAsync(string sessionId, long afterSeq = 0, CancellationToken cancellationToken = default) =>
        Session(sessionId).StreamEventsAsync(afterSeq, cancellationToken);

    /// <summary>
    /// <see cref="SessionHandle.EventsFrom"/> of session <paramref name="sessionId"/>: history then
    /// live as an observable, each seq exactly once, in order, with no gap.
    /// </summary>
    /// <param name="sessionId">The session to read.</param>
    /// <param name="afterSeq">The last seq the caller already has; 0 for the whole session.</param>
    public IObservable<SessionEvent> SessionEventsFrom(string sessionId, long afterSeq = 0) =>
        Session(sessionId).EventsFrom(afterSeq);
}
