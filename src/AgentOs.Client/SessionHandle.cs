using System.Reactive.Linq;

namespace AgentOs.Client;

/// <summary>
/// A typed handle to one session of a VM: its prompts, configuration, permissions, history and
/// events. <see cref="VmHandle.CreateSessionAsync"/> returns one; <see cref="VmHandle.Session"/>
/// makes one for a session that exists already, without a server call. Cheap, and safe to share
/// between threads; every call goes to the VM's grain.
/// </summary>
/// <remarks>
/// Every async call takes a <see cref="CancellationToken"/>. Cancelling it makes the caller stop
/// waiting (<see cref="OperationCanceledException"/>); a call the server already received still
/// runs to its end there. In particular a prompt turn keeps running, and its events are still
/// recorded, unless <see cref="CancelAsync"/> is called: a client that goes away does not cancel a
/// turn unless it asks to. A token that fired before the call sends nothing.
/// </remarks>
/// <example>
/// <code>
/// var session = await vm.CreateSessionAsync("pi");
/// var reading = Task.Run(async () =>
/// {
///     await foreach (var e in session.StreamEventsAsync(cancellationToken: ct)) Console.WriteLine(e.GetText());
/// });
/// var reply = await session.SendPromptAsync("Hello", ct);
/// </code>
/// </example>
public sealed class SessionHandle
{
    private volatile SessionInfo? _info;

    internal SessionHandle(VmHandle vm, string sessionId, SessionInfo? info)
    {
        Vm = vm;
        Id = sessionId;
        _info = info;
    }

    /// <summary>The VM the session belongs to.</summary>
    public VmHandle Vm { get; }

    /// <summary>The session id: server-assigned, stable across resume.</summary>
    public string Id { get; }

    /// <summary>The session id; the same as <see cref="Id"/> (and <see cref="SessionInfo.SessionId"/>).</summary>
    public string SessionId => Id;

    /// <summary>
    /// What the agent reported when this handle created or last resumed the session (capabilities,
    /// agent info, modes, models, config options, pid); null for a handle from
    /// <see cref="VmHandle.Session"/> until <see cref="ResumeAsync"/> returns. A snapshot: current
    /// modes and config options come from <see cref="GetModesAsync"/> and <see cref="GetConfigOptionsAsync"/>.
    /// </summary>
    public SessionInfo? Info => _info;

    /// <summary>
    /// Every event of the session, replay then live: <see cref="StreamEventsAsync"/> as an
    /// observable from the first event. See <see cref="EventsFrom"/>.
    /// </summary>
    public IObservable<SessionEvent> Events => EventsFrom(0);

    private IVmGrain Grain => Vm.Grain;

    /// <inheritdoc cref="IVmGrain.SendPrompt"/>
    /// <param name="prompt">The user's prompt text.</param>
    /// <param name="cancellationToken">
    /// Stops waiting for the result only: the turn goes on running on the server, its events are
    /// recorded and streamed, and its result is lost to this caller (the transcript keeps its
    /// <c>_agentos/turn_end</c>). To end the turn, call <see cref="CancelAsync"/>.
    /// </param>
    /// <exception cref="AgentOsException"><see cref="AgentOsErrorCode.ServerUnavailable"/> at once when the connection to the server is lost mid-turn.</exception>
    public Task<PromptResult> SendPromptAsync(string prompt, CancellationToken cancellationToken = default) =>
        Call(() => Grain.SendPrompt(Id, prompt), "SendPrompt", cancellationToken);

    /// <inheritdoc cref="IVmGrain.SendPromptContent"/>
    /// <param name="prompt">The blocks (<see cref="PromptContent.FromText"/>, <see cref="PromptContent.Image"/>, …).</param>
    /// <param name="cancellationToken">Stops waiting; the turn goes on (cancel it with <see cref="CancelAsync"/>).</param>
    public Task<PromptResult> SendPromptAsync(IReadOnlyList<PromptContent> prompt, CancellationToken cancellationToken = default) =>
        Call(() => Grain.SendPromptContent(Id, prompt), "SendPrompt", cancellationToken);

    /// <inheritdoc cref="IVmGrain.CancelPrompt"/>
    /// <param name="cancellationToken">Stops waiting; the cancel, once sent, goes ahead.</param>
    public Task CancelAsync(CancellationToken cancellationToken = default) =>
        Call(() => Grain.CancelPrompt(Id), "CancelPrompt", cancellationToken);

    /// <inheritdoc cref="IVmGrain.ResumeSession"/>
    /// <returns>The restored session's info, also kept as <see cref="Info"/>.</returns>
    /// <param name="cancellationToken">Stops waiting; a resume the server received goes ahead.</param>
    public async Task<SessionInfo> ResumeAsync(CancellationToken cancellationToken = default)
    {
        var info = await Call(() => Grain.ResumeSession(Id), "ResumeSession", cancellationToken).ConfigureAwait(false);
        _info = info;
        return info;
    }

    /// <inheritdoc cref="IVmGrain.CloseSession"/>
    /// <param name="cancellationToken">Stops waiting; a close the server received goes ahead.</param>
    public Task CloseAsync(CancellationToken cancellationToken = default) =>
        Call(() => Grain.CloseSession(Id), "CloseSession", cancellationToken);

    /// <inheritdoc cref="IVmGrain.DestroySession"/>
    /// <param name="cancellationToken">Stops waiting; a destroy the server received goes ahead.</param>
    public Task DestroyAsync(CancellationToken cancellationToken = default) =>
        Call(() => Grain.DestroySession(Id), "DestroySession", cancellationToken);

    /// <inheritdoc cref="IVmGrain.GetUsage"/>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<SessionUsage> GetUsageAsync(CancellationToken cancellationToken = default) =>
        Call(() => Grain.GetUsage(Id), "GetUsage", cancellationToken);

    /// <inheritdoc cref="IVmGrain.GetModes"/>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<SessionModes?> GetModesAsync(CancellationToken cancellationToken = default) =>
        Call(() => Grain.GetModes(Id), "GetModes", cancellationToken);

    /// <inheritdoc cref="IVmGrain.GetModels"/>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<SessionModels?> GetModelsAsync(CancellationToken cancellationToken = default) =>
        Call(() => Grain.GetModels(Id), "GetModels", cancellationToken);

    /// <inheritdoc cref="IVmGrain.GetConfigOptions"/>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<IReadOnlyList<ConfigOption>> GetConfigOptionsAsync(CancellationToken cancellationToken = default) =>
        Call(() => Grain.GetConfigOptions(Id), "GetConfigOptions", cancellationToken);

    /// <inheritdoc cref="IVmGrain.SetMode"/>
    /// <param name="modeId">One of the modes the agent offers (<see cref="GetModesAsync"/>).</param>
    /// <param name="cancellationToken">Stops waiting; a change the server received goes ahead.</param>
    public Task SetModeAsync(string modeId, CancellationToken cancellationToken = default) =>
        Call(() => Grain.SetMode(Id, modeId), "SetMode", cancellationToken);

    /// <inheritdoc cref="IVmGrain.SetModel"/>
    /// <param name="modelId">One of the models the agent offers (<see cref="SessionInfo.Models"/>).</param>
    /// <param name="cancellationToken">Stops waiting; a change the server received goes ahead.</param>
    public Task SetModelAsync(string modelId, CancellationToken cancellationToken = default) =>
        Call(() => Grain.SetModel(Id, modelId), "SetModel", cancellationToken);

    /// <inheritdoc cref="IVmGrain.SetThoughtLevel"/>
    /// <param name="level">One of the values of the agent's <c>thought_level</c> config option.</param>
    /// <param name="cancellationToken">Stops waiting; a change the server received goes ahead.</param>
    public Task SetThoughtLevelAsync(string level, CancellationToken cancellationToken = default) =>
        Call(() => Grain.SetThoughtLevel(Id, level), "SetThoughtLevel", cancellationToken);

    /// <inheritdoc cref="IVmGrain.GetPendingPermissions"/>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<IReadOnlyList<PendingPermission>> GetPendingPermissionsAsync(CancellationToken cancellationToken = default) =>
        Call(() => Grain.GetPendingPermissions(Id), "GetPendingPermissions", cancellationToken);

    /// <inheritdoc cref="IVmGrain.RespondPermission"/>
    /// <param name="requestId">The seq of the request's <c>session/request_permission</c> event (see <see cref="GetPendingPermissionsAsync"/>).</param>
    /// <param name="optionId">One of the request's options' <c>optionId</c>.</param>
    /// <param name="cancellationToken">Stops waiting; an answer the server received is given.</param>
    public Task RespondPermissionAsync(long requestId, string optionId, CancellationToken cancellationToken = default) =>
        Call(() => Grain.RespondPermission(Id, requestId, optionId), "RespondPermission", cancellationToken);

    /// <inheritdoc cref="IVmGrain.GetPendingElicitations"/>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<IReadOnlyList<PendingElicitation>> GetPendingElicitationsAsync(CancellationToken cancellationToken = default) =>
        Call(() => Grain.GetPendingElicitations(Id), "GetPendingElicitations", cancellationToken);

    /// <inheritdoc cref="IVmGrain.RespondElicitation"/>
    /// <param name="requestId">The seq of the request's <c>elicitation/create</c> event (see <see cref="GetPendingElicitationsAsync"/>).</param>
    /// <param name="answer"><see cref="ElicitationAnswer.Accept"/> (a form's fields), <see cref="ElicitationAnswer.Decline"/> or <see cref="ElicitationAnswer.Cancel"/>.</param>
    /// <param name="cancellationToken">Stops waiting; an answer the server received is given.</param>
    public Task RespondElicitationAsync(long requestId, ElicitationAnswer answer, CancellationToken cancellationToken = default) =>
        Call(() => Grain.RespondElicitation(Id, requestId, answer), "RespondElicitation", cancellationToken);

    /// <summary>The persisted transcript of the session, seq 1..N (works while the VM sleeps; never starts an agent).</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task<IReadOnlyList<SessionEvent>> GetEventsAsync(CancellationToken cancellationToken = default)
    {
        // Page by page (each bounded in bytes by the server), so a transcript of any size can be read.
        const int pageSize = int.MaxValue;
        var all = new List<SessionEvent>();
        while (true)
        {
            var page = await GetEventsAsync(all.Count == 0 ? 0 : all[^1].Seq, pageSize, cancellationToken).ConfigureAwait(false);
            all.AddRange(page);
            if (page.Count == 0 || !SessionEventBatch.IsFullPage(page, pageSize))
            {
                return all;
            }
        }
    }

    /// <inheritdoc cref="IVmGrain.GetSequencedEvents"/>
    /// <param name="since">Events with a seq greater than this; 0 for the first.</param>
    /// <param name="limit">At most this many.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task<IReadOnlyList<SessionEvent>> GetEventsAsync(long since, int limit, CancellationToken cancellationToken = default)
    {
        var events = await Call(() => Grain.GetSequencedEvents(Id, since, limit), "GetSequencedEvents", cancellationToken).ConfigureAwait(false);
        if (events is SessionEventBatch batch)
        {
            _ = batch.Events; // history arrives encoded: decode it here, before the caller gets it
        }

        return events;
    }

    /// <summary>
    /// Every event of the session with seq &gt; <paramref name="afterSeq"/>: the persisted history
    /// first, then live events as they are committed, each exactly once, in seq order, with no gap,
    /// however fast the session streams. Live events are filtered to the session on the silo
    /// (only batches holding its events are sent; other sessions' events in them are cut off by bytes, never decoded). If the live subscription fails or the server
    /// is briefly unreachable, it resubscribes and continues after the last seq it yielded; it
    /// survives the VM sleeping and waking, and does not keep the VM awake. It never completes on its
    /// own: stop it with <paramref name="cancellationToken"/> or by leaving the <c>await foreach</c>.
    /// </summary>
    /// <param name="afterSeq">The last seq the caller already has; 0 for the whole session.</param>
    /// <param name="cancellationToken">Ends the enumeration (with <see cref="OperationCanceledException"/>).</param>
    /// <exception cref="AgentOsException">
    /// <see cref="AgentOsErrorCode.UnknownSession"/> when the VM has no such session;
    /// <see cref="AgentOsErrorCode.ServerUnavailable"/> when the stream could not be restored after repeated attempts.
    /// </exception>
    /// <example>
    /// <code>
    /// await foreach (var e in session.StreamEventsAsync(afterSeq: lastSeen, cancellationToken))
    /// {
    ///     lastSeen = e.Seq;
    /// }
    /// </code>
    /// </example>
    public IAsyncEnumerable<SessionEvent> StreamEventsAsync(long afterSeq = 0, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(afterSeq);
        return SessionEventStream.ReadAsync(this, afterSeq, cancellationToken);
    }

    /// <summary>
    /// <see cref="StreamEventsAsync"/> as an observable: every event of the session with seq &gt;
    /// <paramref name="afterSeq"/>, history then live, exactly once, in seq order, with no gap. Each
    /// subscription streams on its own; disposing it stops the stream. It never completes on its
    /// own; OnError reports a failure the stream could not recover from.
    /// </summary>
    /// <param name="afterSeq">The last seq the caller already has; 0 for the whole session.</param>
    public IObservable<SessionEvent> EventsFrom(long afterSeq)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(afterSeq);
        return Observable.Create<SessionEvent>(async (observer, cancellationToken) =>
        {
            await foreach (var e in StreamEventsAsync(afterSeq, cancellationToken).ConfigureAwait(false))
            {
                observer.OnNext(e);
            }
        });
    }

    private Task<T> Call<T>(Func<Task<T>> call, string what, CancellationToken cancellationToken) =>
        Vm.Connection.CallAsync(call, what, cancellationToken);

    private Task Call(Func<Task> call, string what, CancellationToken cancellationToken) =>
        Vm.Connection.CallAsync(call, what, cancellationToken);

    /// <inheritdoc />
    public override string ToString() => $"session {Id} of VM {Vm.Id}";
}
