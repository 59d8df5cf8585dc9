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

    internal VmHandle(IClusterClient client, string vmId)
    {
        _client = client;
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
    public Task<SessionInfo> CreateSessionAsync(string agentType, CreateSessionOptions? options = null) => _grain.CreateSession(agentType, options);

    /// <inheritdoc cref="IVmGrain.SendPrompt"/>
    public Task<PromptResult> SendPromptAsync(string sessionId, string prompt) => _grain.SendPrompt(sessionId, prompt);

    /// <inheritdoc cref="IVmGrain.CancelPrompt"/>
    public Task CancelPromptAsync(string sessionId) => _grain.CancelPrompt(sessionId);

    /// <inheritdoc cref="IVmGrain.GetEvents"/>
    public Task<IReadOnlyList<SessionEvent>> GetEventsAsync(string sessionId) => _grain.GetEvents(sessionId);

    /// <inheritdoc cref="IVmGrain.GetSequencedEvents"/>
    public Task<IReadOnlyList<SessionEvent>> GetSequencedEventsAsync(string sessionId, long since, int limit = 10_000) => _grain.GetSequencedEvents(sessionId, since, limit);

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
