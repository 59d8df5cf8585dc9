using Orleans.Streams;

namespace AgentOs.Server.Http.Streaming;

/// <summary>
/// Subscribes inside the server to a VM's <see cref="AgentOsNames.SessionEventStream"/>, as the SDK does from outside:
/// the silo's own client, the same memory stream, the same per-session filter (<c>SessionStreamFilter</c>). Batches
/// arrive encoded and are passed on as they are.
/// </summary>
internal static class LiveEvents
{
    /// <summary>
    /// Subscribes to VM <paramref name="vmId"/>'s batches, every session's or, with <paramref name="sessionId"/>, only
    /// those holding that session's events (not yet sliced to it). Returns once the subscription is in place.
    /// </summary>
    public static async Task<IAsyncDisposable> SubscribeAsync(IClusterClient client, string vmId, string? sessionId, SessionEventFeed.LiveBuffer live)
    {
        var stream = client.GetStreamProvider(AgentOsNames.StreamProvider).GetStream<SessionEventBatch>(StreamId.Create(AgentOsNames.SessionEventStream, vmId));
        var handle = await stream.SubscribeAsync(new Observer(sessionId, live), token: null, filterData: sessionId);
        return new Unsubscriber(handle);
    }

    private sealed class Observer(string? sessionId, SessionEventFeed.LiveBuffer live) : IAsyncObserver<SessionEventBatch>
    {
        public Task OnNextAsync(SessionEventBatch item, StreamSequenceToken? token = null)
        {
            live.Add(sessionId is null ? item : item.Of(sessionId));
            return Task.CompletedTask;
        }

        public Task OnCompletedAsync()
        {
            live.Complete(null);
            return Task.CompletedTask;
        }

        public Task OnErrorAsync(Exception ex)
        {
            live.Complete(ex);
            return Task.CompletedTask;
        }
    }

    private sealed class Unsubscriber(StreamSubscriptionHandle<SessionEventBatch> handle) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await handle.UnsubscribeAsync();
            }
            catch (Exception)
            {
                // The stream is going away with the server; nothing left to unsubscribe from.
            }
        }
    }
}

/// <summary>One session's history (the VM grain) and live batches (<see cref="LiveEvents"/>), for <see cref="SessionEventFeed"/>.</summary>
internal sealed class GrainEventSource(IGrainFactory grains, IClusterClient client, string vmId, string sessionId) : SessionEventFeed.ISource
{
    public string Description => $"session '{sessionId}' in VM '{vmId}'";

    public Task<IReadOnlyList<SessionEvent>> ReadAsync(long since, int limit, CancellationToken cancellationToken) =>
        grains.GetGrain<IVmGrain>(vmId).GetSequencedEvents(sessionId, since, limit).WaitAsync(cancellationToken);

    public Task<IAsyncDisposable> SubscribeAsync(SessionEventFeed.LiveBuffer live, CancellationToken cancellationToken) =>
        LiveEvents.SubscribeAsync(client, vmId, sessionId, live);

    /// <summary>In the server's own process there is no connection to lose; a failed stream is resubscribed by the feed.</summary>
    public bool IsTransient(Exception exception) => false;
}
