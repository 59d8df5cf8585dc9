using System.Runtime.CompilerServices;
using Orleans.Runtime.Messaging;

namespace AgentOs.Client;

/// <summary>
/// Replay-then-live reading of one session's events for <see cref="SessionHandle.StreamEventsAsync"/>: the shared
/// <see cref="SessionEventFeed"/> (subscribe first, page history, then live, each seq once with no gap, reconnecting
/// after transient failures) over the session's grain and its silo-filtered live subscription; each batch is decoded
/// as it is handed out. The server's HTTP event stream runs the same feed.
/// </summary>
internal sealed class SessionEventStream(SessionHandle session) : SessionEventFeed.ISource
{
    /// <summary>The stream behind <see cref="SessionHandle.StreamEventsAsync"/>.</summary>
    public static async IAsyncEnumerable<SessionEvent> ReadAsync(
        SessionHandle session, long afterSeq, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentOutOfRangeException.ThrowIfNegative(afterSeq);

        var feed = new SessionEventFeed(new SessionEventStream(session), afterSeq);
        try
        {
            while (true)
            {
                SessionEventBatch batch;
                try
                {
                    batch = await feed.NextAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (AgentOsException ex) when (ex.SessionId is null)
                {
                    throw new AgentOsException(ex.Code, ex.Message, ex.InnerException ?? ex) { SessionId = session.Id };
                }

                foreach (var e in batch.Events)
                {
                    yield return e;
                }
            }
        }
        finally
        {
            await feed.DisposeAsync().ConfigureAwait(false);
        }
    }

    public string Description => $"session '{session.Id}' in VM '{session.Vm.Id}'";

    public Task<IReadOnlyList<SessionEvent>> ReadAsync(long since, int limit, CancellationToken cancellationToken) =>
        session.Vm.Connection.CallAsync(() => session.Vm.Grain.GetSequencedEvents(session.Id, since, limit), "GetSequencedEvents", cancellationToken);

    public Task<IAsyncDisposable> SubscribeAsync(SessionEventFeed.LiveBuffer live, CancellationToken cancellationToken) =>
        LiveSubscription.SubscribeBatchesAsync(session.Vm.Client, session.Vm.Id, session.Id, live, cancellationToken);

    public bool IsTransient(Exception exception) => exception
        is AgentOsException { Code: AgentOsErrorCode.ServerUnavailable }
        or TimeoutException
        or SiloUnavailableException
        or OrleansMessageRejectionException
        or GatewayTooBusyException
        or ConnectionFailedException
        or ClientNotAvailableException;
}
