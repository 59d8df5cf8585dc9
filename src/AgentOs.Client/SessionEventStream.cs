using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Orleans.Runtime.Messaging;

namespace AgentOs.Client;

/// <summary>
/// Replay-then-live reading of one session's events: every event with seq &gt; a given seq, exactly
/// once, in seq order, with no gap. It subscribes to the session's live events first (filtered to
/// the session on the silo, so nothing here is another session's), buffering what arrives, pages the persisted history after that, then reads the live buffer, dropping
/// what it has already yielded and filling any gap from the store. When the live subscription
/// fails, or a call fails transiently, it resubscribes and continues from the last seq it yielded.
/// </summary>
internal sealed class SessionEventStream : IAsyncDisposable
{
    /// <summary>Events per history read.</summary>
    internal const int PageSize = 5_000;

    /// <summary>Reconnects in a row (with no event yielded in between) before giving up.</summary>
    internal const int MaxReconnectAttempts = 6;

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);

    private readonly SessionHandle _session;
    private readonly string _sessionId;
    private long _last;
    private Channel<SessionEvent>? _live;
    private IAsyncDisposable? _subscription;
    private bool _catchingUp;

    private SessionEventStream(SessionHandle session, long afterSeq)
    {
        _session = session;
        _sessionId = session.Id;
        _last = afterSeq;
    }

    /// <summary>The stream behind <see cref="SessionHandle.StreamEventsAsync"/>.</summary>
    public static async IAsyncEnumerable<SessionEvent> ReadAsync(
        SessionHandle session, long afterSeq, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentOutOfRangeException.ThrowIfNegative(afterSeq);

        var stream = new SessionEventStream(session, afterSeq);
        try
        {
            while (true)
            {
                var batch = await stream.NextBatchAsync(cancellationToken).ConfigureAwait(false);
                foreach (var e in batch)
                {
                    yield return e;
                }
            }
        }
        finally
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The next events after <see cref="_last"/>, contiguous and never empty. <see cref="_last"/>
    /// advances only when a batch is returned, so a failure half-way loses nothing: the retry
    /// starts again from the last seq handed out.
    /// </summary>
    private async Task<List<SessionEvent>> NextBatchAsync(CancellationToken cancellationToken)
    {
        var failures = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                if (_live is null)
                {
                    await ConnectAsync(cancellationToken).ConfigureAwait(false);
                }

                var batch = _catchingUp
                    ? await ReadHistoryPageAsync(cancellationToken).ConfigureAwait(false)
                    : await ReadLiveAsync(cancellationToken).ConfigureAwait(false);
                if (batch.Count > 0)
                {
                    _last = batch[^1].Seq;
                    return batch;
                }
            }
            catch (Exception ex) when (IsReconnectable(ex, cancellationToken))
            {
                await DisconnectAsync().ConfigureAwait(false);
                if (++failures > MaxReconnectAttempts)
                {
                    throw new AgentOsException(AgentOsErrorCode.ServerUnavailable,
                        $"Lost the event stream of session '{_sessionId}' in VM '{_session.Vm.Id}' and could not restore it after {MaxReconnectAttempts} reconnects: {ex.Message} " +
                        $"The last event delivered had seq {_last}; stream again from there to continue.", ex)
                    { SessionId = _sessionId };
                }

                await Task.Delay(Backoff(failures), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Subscribes to the live stream, then (re)reads history from <see cref="_last"/>.</summary>
    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var live = Channel.CreateUnbounded<SessionEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var subscribing = _session.SubscribeLiveAsync(new LiveObserver(live.Writer), CancellationToken.None);
        try
        {
            _subscription = await subscribing.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The subscription may still come into place: take it down when it does.
            _ = subscribing.ContinueWith(
                static t => t.Result.DisposeAsync().AsTask(),
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default).Unwrap();
            throw;
        }

        _live = live;
        _catchingUp = true;
    }

    private async Task<List<SessionEvent>> ReadHistoryPageAsync(CancellationToken cancellationToken)
    {
        var page = await _session.GetEventsAsync(_last, PageSize, cancellationToken).ConfigureAwait(false);
        if (!SessionEventBatch.IsFullPage(page, PageSize))
        {
            _catchingUp = false;
        }

        var batch = new List<SessionEvent>(page.Count);
        var last = _last;
        foreach (var e in page)
        {
            Expect(e, last + 1);
            batch.Add(e);
            last = e.Seq;
        }

        return batch;
    }

    /// <summary>Waits for live events; returns what is buffered, deduplicated and with gaps filled from the store.</summary>
    private async Task<List<SessionEvent>> ReadLiveAsync(CancellationToken cancellationToken)
    {
        var reader = _live!.Reader;
        var batch = new List<SessionEvent>();
        var last = _last;
        while (batch.Count == 0)
        {
            if (!reader.TryRead(out var e))
            {
                if (!await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    throw new LiveStreamEndedException("The live event stream completed.");
                }

                continue;
            }

            do
            {
                if (e.Seq <= last)
                {
                    continue; // already yielded (from history, a gap fill, or before a reconnect)
                }

                if (e.Seq > last + 1)
                {
                    // Published before the subscription took effect, or lost on the way: the store has it.
                    last = await FillGapAsync(batch, last, e.Seq, cancellationToken).ConfigureAwait(false);
                }

                batch.Add(e);
                last = e.Seq;
            }
            while (batch.Count < PageSize && reader.TryRead(out e));
        }

        return batch;
    }

    /// <summary>Appends the stored events after <paramref name="last"/> and before <paramref name="before"/>; returns the new last seq.</summary>
    private async Task<long> FillGapAsync(List<SessionEvent> batch, long last, long before, CancellationToken cancellationToken)
    {
        while (last < before - 1)
        {
            var want = (int)Math.Min(PageSize, before - 1 - last);
            var page = await _session.GetEventsAsync(last, want, cancellationToken).ConfigureAwait(false);
            if (page.Count == 0)
            {
                // Every published event was committed first, so this means the store lost events.
                throw new InvalidOperationException(
                    $"Session '{_sessionId}' in VM '{_session.Vm.Id}': the live stream delivered seq {before} but the store has nothing after seq {last}.");
            }

            foreach (var e in page)
            {
                if (e.Seq >= before)
                {
                    return last;
                }

                Expect(e, last + 1);
                batch.Add(e);
                last = e.Seq;
            }
        }

        return last;
    }

    private void Expect(SessionEvent e, long seq)
    {
        if (e.Seq != seq)
        {
            throw new InvalidOperationException(
                $"Session '{_sessionId}' in VM '{_session.Vm.Id}': expected seq {seq} from the store, got {e.Seq}; the session's seq is not gapless.");
        }
    }

    private static bool IsReconnectable(Exception ex, CancellationToken cancellationToken) =>
        !cancellationToken.IsCancellationRequested && ex is LiveStreamEndedException
            or AgentOsException { Code: AgentOsErrorCode.ServerUnavailable }
            or TimeoutException
            or SiloUnavailableException
            or OrleansMessageRejectionException
            or GatewayTooBusyException
            or ConnectionFailedException
            or ClientNotAvailableException;

    private static TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds(Math.Min(MaxBackoff.TotalMilliseconds, 100 * Math.Pow(2, attempt - 1)));

    private async Task DisconnectAsync()
    {
        var subscription = _subscription;
        _subscription = null;
        _live = null;
        if (subscription is not null)
        {
            await subscription.DisposeAsync().ConfigureAwait(false);
        }
    }

    public ValueTask DisposeAsync() => new(DisconnectAsync());

    /// <summary>Buffers the session's live events; a failed or completed subscription completes the buffer with an error.</summary>
    private sealed class LiveObserver(ChannelWriter<SessionEvent> writer) : IObserver<SessionEvent>
    {
        public void OnNext(SessionEvent value) => writer.TryWrite(value);

        public void OnError(Exception error) => writer.TryComplete(new LiveStreamEndedException("The live event stream failed: " + error.Message, error));

        public void OnCompleted() => writer.TryComplete(new LiveStreamEndedException("The live event stream completed."));
    }

    /// <summary>The live subscription ended; resubscribe.</summary>
    private sealed class LiveStreamEndedException : Exception
    {
        public LiveStreamEndedException(string message)
            : base(message)
        {
        }

        public LiveStreamEndedException(string message, Exception innerException)
            : base(message, innerException)
        {
        }
    }
}
