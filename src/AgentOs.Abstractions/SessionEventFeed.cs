using System.Threading.Channels;

namespace AgentOs;

/// <summary>
/// Replay-then-live reading of one session's events, in encoded batches: every event with seq &gt; a given seq,
/// exactly once, in seq order, with no gap. It subscribes to the session's live events first (into a
/// <see cref="LiveBuffer"/>), pages the persisted history after that, then reads the live buffer, dropping what it
/// has already handed out and filling any gap from the store. When the live subscription fails, or a call fails
/// transiently, it resubscribes and continues from the last seq it handed out. When the buffer overflows (a reader
/// slower than the session), what it holds is dropped and the reader catches up from the store instead: the
/// subscriber never holds the stream up. Shared by the client SDK (<c>SessionHandle.StreamEventsAsync</c>, which
/// decodes each batch it hands out) and the server's HTTP event stream (which writes the batches on undecoded).
/// </summary>
internal sealed class SessionEventFeed : IAsyncDisposable
{
    /// <summary>Events per history read, and most events per batch handed out.</summary>
    internal const int PageSize = 5_000;

    /// <summary>Reconnects in a row (with no batch handed out in between) before giving up.</summary>
    internal const int MaxReconnectAttempts = 6;

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);
    private static readonly SessionEventBatch Empty = new(Array.Empty<SessionEvent>());

    private readonly ISource _source;
    private readonly long _maxBufferedBytes;
    private long _last;
    private LiveBuffer? _live;
    private IAsyncDisposable? _subscription;
    private bool _catchingUp;

    /// <summary>A feed of the events after <paramref name="afterSeq"/>.</summary>
    /// <param name="source">Where history and live events come from.</param>
    /// <param name="afterSeq">The last seq the reader already has; 0 for the whole session.</param>
    /// <param name="maxBufferedBytes">The most live events (encoded bytes) held for the reader; past it the reader catches up from the store.</param>
    public SessionEventFeed(ISource source, long afterSeq, long maxBufferedBytes = long.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegative(afterSeq);
        _source = source;
        _last = afterSeq;
        _maxBufferedBytes = maxBufferedBytes;
    }

    /// <summary>Where a feed reads one session's events from.</summary>
    internal interface ISource
    {
        /// <summary>What the feed reads, for messages: <c>session 'x' in VM 'y'</c>.</summary>
        string Description { get; }

        /// <summary>A history page: the persisted events with seq &gt; <paramref name="since"/> (<see cref="IVmGrain.GetSequencedEvents"/>).</summary>
        Task<IReadOnlyList<SessionEvent>> ReadAsync(long since, int limit, CancellationToken cancellationToken);

        /// <summary>Subscribes <paramref name="live"/> to the session's live batches (its events only); returns once in place.</summary>
        Task<IAsyncDisposable> SubscribeAsync(LiveBuffer live, CancellationToken cancellationToken);

        /// <summary>Whether a failure is worth a resubscribe (a lost connection) rather than the end of the feed.</summary>
        bool IsTransient(Exception exception);
    }

    /// <summary>The last seq handed out (or the start).</summary>
    public long Last => _last;

    /// <summary>How often the reader fell behind the bounded buffer and was caught up from the store.</summary>
    public int Overflows { get; private set; }

    /// <summary>
    /// The next events after <see cref="Last"/>, contiguous and never empty. <see cref="Last"/> advances only when a
    /// batch is returned, so a failure half-way loses nothing: the retry starts again from the last seq handed out.
    /// </summary>
    /// <exception cref="AgentOsException"><see cref="AgentOsErrorCode.ServerUnavailable"/> when the stream could not be restored.</exception>
    public async Task<SessionEventBatch> NextAsync(CancellationToken cancellationToken)
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
                    _last = SessionEventCodec.SeqRange(batch.Chunks).Last;
                    return batch;
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && (ex is LiveStreamEndedException || _source.IsTransient(ex)))
            {
                await DisconnectAsync().ConfigureAwait(false);
                if (++failures > MaxReconnectAttempts)
                {
                    throw new AgentOsException(AgentOsErrorCode.ServerUnavailable,
                        $"Lost the event stream of {_source.Description} and could not restore it after {MaxReconnectAttempts} reconnects: {ex.Message} " +
                        $"The last event delivered had seq {_last}; stream again from there to continue.", ex);
                }

                await Task.Delay(Backoff(failures), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Subscribes to the live stream, then (re)reads history from <see cref="Last"/>.</summary>
    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var live = new LiveBuffer(_maxBufferedBytes);
        var subscribing = _source.SubscribeAsync(live, CancellationToken.None);
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

    private async Task<SessionEventBatch> ReadHistoryPageAsync(CancellationToken cancellationToken)
    {
        var page = await _source.ReadAsync(_last, PageSize, cancellationToken).ConfigureAwait(false);
        if (!SessionEventBatch.IsFullPage(page, PageSize))
        {
            _catchingUp = false;
        }

        var batch = AsBatch(page);
        Expect(batch, _last + 1);
        return batch;
    }

    /// <summary>Waits for live events; returns what is buffered, deduplicated and with gaps filled from the store.</summary>
    private async Task<SessionEventBatch> ReadLiveAsync(CancellationToken cancellationToken)
    {
        var live = _live!;
        var parts = new List<SessionEventBatch>();
        var last = _last;
        var count = 0;
        while (parts.Count == 0)
        {
            if (live.TakeOverflow())
            {
                Overflows++;
                _catchingUp = true; // what was dropped is in the store
                return Empty;
            }

            if (!live.TryRead(out var batch))
            {
                if (!await live.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    throw new LiveStreamEndedException("The live event stream completed.");
                }

                continue;
            }

            do
            {
                var (first, lastOfBatch) = SessionEventCodec.SeqRange(batch.Chunks);
                if (lastOfBatch <= last)
                {
                    continue; // already handed out (from history, a gap fill, or before a reconnect)
                }

                if (first <= last)
                {
                    batch = batch.After(last);
                    first = last + 1;
                }

                if (first > last + 1)
                {
                    // Published before the subscription took effect, or dropped on the way: the store has it.
                    last = await FillGapAsync(parts, last, first, cancellationToken).ConfigureAwait(false);
                }

                parts.Add(batch);
                count += batch.Count;
                last = lastOfBatch;
            }
            while (count < PageSize && live.TryRead(out batch));
        }

        return SessionEventBatch.Concat(parts);
    }

    /// <summary>Appends the stored events after <paramref name="last"/> and before <paramref name="before"/>; returns the new last seq.</summary>
    private async Task<long> FillGapAsync(List<SessionEventBatch> parts, long last, long before, CancellationToken cancellationToken)
    {
        while (last < before - 1)
        {
            var want = (int)Math.Min(PageSize, before - 1 - last);
            var page = AsBatch(await _source.ReadAsync(last, want, cancellationToken).ConfigureAwait(false));
            if (page.Count == 0)
            {
                // Every published event was committed first, so this means the store lost events.
                throw new InvalidOperationException(
                    $"{Capitalized(_source.Description)}: the live stream delivered seq {before} but the store has nothing after seq {last}.");
            }

            Expect(page, last + 1);
            parts.Add(page);
            last += page.Count;
        }

        return last;
    }

    private static SessionEventBatch AsBatch(IReadOnlyList<SessionEvent> page) =>
        page as SessionEventBatch ?? new SessionEventBatch(page as SessionEvent[] ?? [.. page]);

    private void Expect(SessionEventBatch batch, long first)
    {
        try
        {
            _ = SessionEventCodec.SeqRange(batch.Chunks, first);
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidOperationException($"{Capitalized(_source.Description)}: reading the store, {ex.Message}.", ex);
        }
    }

    private static string Capitalized(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];

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

    /// <summary>
    /// Live batches waiting for the reader, bounded by their encoded size. <see cref="Add"/> never blocks the stream
    /// that delivers them: past the bound it drops the batch and every one after it, and marks an overflow, until the
    /// reader takes it (<see cref="TakeOverflow"/>), empties the buffer and catches up from the store.
    /// </summary>
    internal sealed class LiveBuffer(long maxBytes)
    {
        private readonly Channel<SessionEventBatch> _channel = Channel.CreateUnbounded<SessionEventBatch>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        private long _bytes;
        private volatile bool _overflowed;

        /// <summary>Buffers a live batch (one session's events); drops it when the buffer is full or has overflowed.</summary>
        public void Add(SessionEventBatch batch)
        {
            if (_overflowed)
            {
                return;
            }

            var size = batch.EncodedBytes;
            if (maxBytes != long.MaxValue && Interlocked.Add(ref _bytes, size) > maxBytes)
            {
                Interlocked.Add(ref _bytes, -size);
                _overflowed = true;
                _channel.Writer.TryWrite(Empty); // wakes a waiting reader
                return;
            }

            _channel.Writer.TryWrite(batch);
        }

        /// <summary>The subscription failed or completed: the reader resubscribes.</summary>
        public void Complete(Exception? error) =>
            _channel.Writer.TryComplete(new LiveStreamEndedException(error is null ? "The live event stream completed." : "The live event stream failed: " + error.Message, error));

        /// <summary>Whether the buffer overflowed; if so, empties it and starts buffering again.</summary>
        public bool TakeOverflow()
        {
            if (!_overflowed)
            {
                return false;
            }

            _overflowed = false;
            while (TryRead(out _))
            {
            }

            return true;
        }

        public bool TryRead(out SessionEventBatch batch)
        {
            if (!_channel.Reader.TryRead(out batch!))
            {
                return false;
            }

            if (maxBytes != long.MaxValue)
            {
                Interlocked.Add(ref _bytes, -batch.EncodedBytes);
            }

            return true;
        }

        public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken) => _channel.Reader.WaitToReadAsync(cancellationToken);
    }

    /// <summary>The live subscription ended; resubscribe.</summary>
    internal sealed class LiveStreamEndedException : Exception
    {
        public LiveStreamEndedException(string message)
            : base(message)
        {
        }

        public LiveStreamEndedException(string message, Exception? innerException)
            : base(message, innerException)
        {
        }
    }
}
