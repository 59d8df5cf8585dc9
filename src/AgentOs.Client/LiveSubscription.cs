using Orleans.Streams;

namespace AgentOs.Client;

/// <summary>Subscribing an observer to one of the server's event streams (a VM's, or one session's).</summary>
internal static class LiveSubscription
{
    /// <summary>
    /// Subscribes to the VM's stream, every session's events or, with <paramref name="sessionId"/>, that session's
    /// only (the silo sends only the batches that hold one, and the rest of such a batch is cut off by bytes, before
    /// anything is decoded). Returns once the subscription is in place; dispose the result to unsubscribe.
    /// </summary>
    public static async Task<IAsyncDisposable> SubscribeAsync(IClusterClient client, string vmId, string? sessionId, IObserver<SessionEvent> observer, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var stream = client.GetStreamProvider(AgentOsNames.StreamProvider).GetStream<SessionEventBatch>(StreamId.Create(AgentOsNames.SessionEventStream, vmId));
        var handle = await stream.SubscribeAsync(new BatchObserver(sessionId, observer), token: null, filterData: sessionId).ConfigureAwait(false);
        return new Unsubscriber(handle);
    }

    /// <summary>
    /// Subscribes <paramref name="live"/> to one session's batches, sliced to that session by bytes and buffered
    /// undecoded (for <see cref="SessionEventFeed"/>). Returns once the subscription is in place.
    /// </summary>
    public static async Task<IAsyncDisposable> SubscribeBatchesAsync(IClusterClient client, string vmId, string sessionId, SessionEventFeed.LiveBuffer live, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var stream = client.GetStreamProvider(AgentOsNames.StreamProvider).GetStream<SessionEventBatch>(StreamId.Create(AgentOsNames.SessionEventStream, vmId));
        var handle = await stream.SubscribeAsync(new BufferObserver(sessionId, live), token: null, filterData: sessionId).ConfigureAwait(false);
        return new Unsubscriber(handle);
    }

    private sealed class BufferObserver(string sessionId, SessionEventFeed.LiveBuffer live) : IAsyncObserver<SessionEventBatch>
    {
        public Task OnNextAsync(SessionEventBatch item, StreamSequenceToken? token = null)
        {
            live.Add(item.Of(sessionId));
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

    private sealed class BatchObserver(string? sessionId, IObserver<SessionEvent> observer) : IAsyncObserver<SessionEventBatch>
    {
        public Task OnNextAsync(SessionEventBatch item, StreamSequenceToken? token = null)
        {
            foreach (var e in (sessionId is null ? item : item.Of(sessionId)).Events)
            {
                observer.OnNext(e);
            }

            return Task.CompletedTask;
        }

        public Task OnCompletedAsync()
        {
            observer.OnCompleted();
            return Task.CompletedTask;
        }

        public Task OnErrorAsync(Exception ex)
        {
            observer.OnError(ex);
            return Task.CompletedTask;
        }
    }

    /// <summary>For <see cref="IObservable{T}"/> subscriptions: disposing starts the unsubscribe and does not wait for it.</summary>
    public sealed class SyncUnsubscriber(IAsyncDisposable inner) : IDisposable
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
