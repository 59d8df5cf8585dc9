using System.Reactive.Linq;
using Orleans.Streams;

namespace AgentOs.Client;

/// <summary>
/// A typed handle to one VM: its sessions, prompts, history, and live events. Cheap to create;
/// every call goes to the VM's grain.
/// </summary>
public sealed class VmHandle
{
    private readonly IClusterClient _client;
    private readonly IVmGrain _grain;

    private readonly ConnectionMonitor _connection;

    internal VmHandle(IClusterClient client, string vmId, ConnectionMonitor connection)
    {
        _client = client;
        _connection = connection;
        Id = vmId;
        _grain = client.GetGrain<IVmGrain>(vmId);
        SessionEvents = Observable.Create<SessionEvent>(async (observer, cancellationToken) =>
        {
            var subscription = await SubscribeAsync(observer, cancellationToken).ConfigureAwait(false);
            return (IDisposable)new SyncUnsubscriber(subscription);
        });
    }

    /// <summary>The VM id.</summary>
    public string Id { get; }

    /// <summary>The underlying grain, for calls this handle does not wrap.</summary>
    public IVmGrain Grain => _grain;

    /// <summary>
    /// Every event of every session of this VM, live, in seq order per session, each only after it
    /// was committed. The subscription is set up asynchronously; to be sure it is in place before a
    /// prompt, use <see cref="SubscribeAsync"/>. Earlier events come from <see cref="GetEventsAsync"/>.
    /// </summary>
    public IObservable<SessionEvent> SessionEvents { get; }

    /// <inheritdoc cref="IVmGrain.CreateSession"/>
    public Task<SessionInfo> CreateSessionAsync(string agentType, CreateSessionOptions? options = null) =>
        _connection.GuardAsync(_grain.CreateSession(agentType, options), "CreateSession");

    /// <inheritdoc cref="IVmGrain.SendPrompt"/>
    /// <exception cref="AgentOsException"><see cref="AgentOsErrorCode.ServerUnavailable"/> at once when the connection to the server is lost mid-turn.</exception>
    public Task<PromptResult> SendPromptAsync(string sessionId, string prompt) =>
        _connection.GuardAsync(_grain.SendPrompt(sessionId, prompt), "SendPrompt");

    /// <inheritdoc cref="IVmGrain.CancelPrompt"/>
    public Task CancelPromptAsync(string sessionId) => _grain.CancelPrompt(sessionId);

    /// <inheritdoc cref="IVmGrain.RespondPermission"/>
    public Task RespondPermissionAsync(string sessionId, long requestId, string optionId) => _grain.RespondPermission(sessionId, requestId, optionId);

    /// <inheritdoc cref="IVmGrain.GetPendingPermissions"/>
    public Task<IReadOnlyList<PendingPermission>> GetPendingPermissionsAsync(string sessionId) => _grain.GetPendingPermissions(sessionId);

    /// <inheritdoc cref="IVmGrain.GetModes"/>
    public Task<SessionModes?> GetModesAsync(string sessionId) => _grain.GetModes(sessionId);

    /// <inheritdoc cref="IVmGrain.GetConfigOptions"/>
    public Task<IReadOnlyList<ConfigOption>> GetConfigOptionsAsync(string sessionId) => _grain.GetConfigOptions(sessionId);

    /// <inheritdoc cref="IVmGrain.SetMode"/>
    public Task SetModeAsync(string sessionId, string modeId) => _grain.SetMode(sessionId, modeId);

    /// <inheritdoc cref="IVmGrain.SetModel"/>
    public Task SetModelAsync(string sessionId, string modelId) => _grain.SetModel(sessionId, modelId);

    /// <inheritdoc cref="IVmGrain.SetThoughtLevel"/>
    public Task SetThoughtLevelAsync(string sessionId, string level) => _grain.SetThoughtLevel(sessionId, level);

    /// <inheritdoc cref="IVmGrain.ResumeSession"/>
    public Task<SessionInfo> ResumeSessionAsync(string sessionId) => _connection.GuardAsync(_grain.ResumeSession(sessionId), "ResumeSession");

    /// <inheritdoc cref="IVmGrain.CloseSession"/>
    public Task CloseSessionAsync(string sessionId) => _grain.CloseSession(sessionId);

    /// <inheritdoc cref="IVmGrain.DestroySession"/>
    public Task DestroySessionAsync(string sessionId) => _grain.DestroySession(sessionId);

    /// <inheritdoc cref="IVmGrain.Sleep"/>
    public Task SleepAsync() => _grain.Sleep();

    /// <summary>The persisted transcript of a session, seq 1..N (works while the VM sleeps; never starts an agent). Same as <see cref="GetEventsAsync"/>.</summary>
    public Task<IReadOnlyList<SessionEvent>> GetSessionEventsAsync(string sessionId) => GetEventsAsync(sessionId);

    /// <summary>Every persisted event of a session, in seq order.</summary>
    public Task<IReadOnlyList<SessionEvent>> GetEventsAsync(string sessionId) => Decoded(_grain.GetSequencedEvents(sessionId, 0, int.MaxValue));

    /// <inheritdoc cref="IVmGrain.GetSequencedEvents"/>
    public Task<IReadOnlyList<SessionEvent>> GetSequencedEventsAsync(string sessionId, long since, int limit = 10_000) => Decoded(_grain.GetSequencedEvents(sessionId, since, limit));

    /// <summary>History arrives encoded (<see cref="SessionEventBatch"/>): it is decoded here, before the caller gets it.</summary>
    private static async Task<IReadOnlyList<SessionEvent>> Decoded(Task<IReadOnlyList<SessionEvent>> read)
    {
        var events = await read.ConfigureAwait(false);
        if (events is SessionEventBatch batch)
        {
            _ = batch.Events;
        }

        return events;
    }

    /// <inheritdoc cref="IVmGrain.ListPersistedSessions"/>
    public Task<IReadOnlyList<PersistedSession>> ListPersistedSessionsAsync() => _grain.ListPersistedSessions();

    /// <inheritdoc cref="IVmGrain.ListSessions"/>
    public Task<IReadOnlyList<string>> ListSessionsAsync() => _grain.ListSessions();

    /// <summary>
    /// Subscribes <paramref name="observer"/> to this VM's live events and returns once the
    /// subscription is in place: every event committed after this returns is delivered.
    /// Dispose the result to unsubscribe.
    /// </summary>
    public async Task<IAsyncDisposable> SubscribeAsync(IObserver<SessionEvent> observer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var stream = _client.GetStreamProvider(AgentOsNames.StreamProvider)
            .GetStream<SessionEventBatch>(StreamId.Create(AgentOsNames.SessionEventStream, Id));
        var handle = await stream.SubscribeAsync(
            (batch, _) =>
            {
                foreach (var e in batch.Events)
                {
                    observer.OnNext(e);
                }

                return Task.CompletedTask;
            },
            ex =>
            {
                observer.OnError(ex);
                return Task.CompletedTask;
            },
            () =>
            {
                observer.OnCompleted();
                return Task.CompletedTask;
            }).ConfigureAwait(false);
        return new Unsubscriber(handle);
    }

    /// <summary>
    /// Every event of session <paramref name="sessionId"/> with seq &gt; <paramref name="afterSeq"/>:
    /// the persisted history first, then live events as they are committed, each exactly once, in
    /// seq order, with no gap, however fast the session streams. If the live subscription fails or
    /// the server is briefly unreachable, it resubscribes and continues after the last seq it
    /// yielded. It never completes on its own: stop it with <paramref name="cancellationToken"/>
    /// or by leaving the <c>await foreach</c>.
    /// </summary>
    /// <param name="sessionId">The session to read.</param>
    /// <param name="afterSeq">The last seq the caller already has; 0 for the whole session.</param>
    /// <param name="cancellationToken">Ends the enumeration (with <see cref="OperationCanceledException"/>).</param>
    /// <exception cref="AgentOsException">
    /// <see cref="AgentOsErrorCode.UnknownSession"/> when the VM has no such session;
    /// <see cref="AgentOsErrorCode.ServerUnavailable"/> when the stream could not be restored after repeated attempts.
    /// </exception>
    /// <example>
    /// <code>
    /// await foreach (var e in vm.StreamSessionEventsAsync(sessionId, afterSeq: lastSeen, cancellationToken))
    /// {
    ///     lastSeen = e.Seq;
    /// }
    /// </code>
    /// </example>
    public IAsyncEnumerable<SessionEvent> StreamSessionEventsAsync(string sessionId, long afterSeq = 0, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        ArgumentOutOfRangeException.ThrowIfNegative(afterSeq);
        return SessionEventStream.ReadAsync(this, sessionId, afterSeq, cancellationToken);
    }

    /// <summary>
    /// <see cref="StreamSessionEventsAsync"/> as an observable: every event of session
    /// <paramref name="sessionId"/> with seq &gt; <paramref name="afterSeq"/>, history then live,
    /// exactly once, in seq order, with no gap. Each subscription streams on its own; disposing it
    /// stops the stream. It never completes on its own; OnError reports a failure the stream could
    /// not recover from (see <see cref="StreamSessionEventsAsync"/>).
    /// </summary>
    /// <param name="sessionId">The session to read.</param>
    /// <param name="afterSeq">The last seq the caller already has; 0 for the whole session.</param>
    public IObservable<SessionEvent> SessionEventsFrom(string sessionId, long afterSeq = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        ArgumentOutOfRangeException.ThrowIfNegative(afterSeq);
        return Observable.Create<SessionEvent>(async (observer, cancellationToken) =>
        {
            await foreach (var e in StreamSessionEventsAsync(sessionId, afterSeq, cancellationToken).ConfigureAwait(false))
            {
                observer.OnNext(e);
            }
        });
    }

    private sealed class SyncUnsubscriber(IAsyncDisposable inner) : IDisposable
    {
        public void Dispose() => _ = inner.DisposeAsync().AsTask();
    }

    private sealed class Unsubscriber(StreamSubscriptionHandle<SessionEventBatch> handle) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await handle.UnsubscribeAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The connection may be gone; nothing left to unsubscribe from.
            }
        }
    }
}
