using Orleans.Streams;

namespace AgentOs.Client;

/// <summary>Subscribing an observer to one of the server's event streams (a VM's, or one session's).</summary>
internal static class LiveSubscription
{
    /// <summary>Subscribes and returns once the subscription is in place; dispose the result to unsubscribe.</summary>
    public static async Task<IAsyncDisposable> SubscribeAsync(IClusterClient client, StreamId streamId, IObserver<SessionEvent> observer, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var stream = client.GetStreamProvider(AgentOsNames.StreamProvider).GetStream<SessionEventBatch>(streamId);
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
