using System.Text;

namespace AgentOs.Server.Http.Streaming;

/// <summary>
/// Every session's events of one VM, replay then live, for the VM's event stream (see <see cref="VmCursor"/> for what
/// it delivers). The steps of <see cref="SessionEventFeed"/>, kept per session: it subscribes to the VM's live batches
/// first (a bounded <see cref="SessionEventFeed.LiveBuffer"/>), catches every session up from the store a page at a
/// time, then hands out live batches split by session, dropping what a session already had and filling its gaps from
/// the store. On an overflow of the buffer it catches up again, so a slow client never holds the VM up.
/// </summary>
internal sealed class VmEventFeed(IGrainFactory grains, IClusterClient client, string vmId, VmCursor start, long maxBufferedBytes) : IAsyncDisposable
{
    private readonly IVmGrain _grain = grains.GetGrain<IVmGrain>(vmId);
    private readonly VmCursor _position = start.Clone();
    private readonly Queue<string> _catchUp = new();
    private readonly HashSet<string> _gone = new(StringComparer.Ordinal);
    private SessionEventFeed.LiveBuffer? _live;
    private IAsyncDisposable? _subscription;
    private bool _catchingUp;

    /// <summary>How often the reader fell behind the bounded buffer and was caught up from the store.</summary>
    public int Overflows { get; private set; }

    /// <summary>The next events, as one batch per session run, each contiguous after what its session had; never empty.</summary>
    public async Task<IReadOnlyList<SessionEventBatch>> NextAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                if (_live is null)
                {
                    await ConnectAsync(cancellationToken);
                }

                var parts = _catchingUp ? await CatchUpPageAsync(cancellationToken) : await ReadLiveAsync(cancellationToken);
                if (parts.Count > 0)
                {
                    return parts;
                }
            }
            catch (SessionEventFeed.LiveStreamEndedException)
            {
                await DisconnectAsync(); // resubscribe, then catch up from the store
            }
        }
    }

    /// <summary>Subscribes to the VM's live batches, then plans what to catch up from the store. <see cref="NextAsync"/> does it when needed.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var live = new SessionEventFeed.LiveBuffer(maxBufferedBytes);
        _subscription = await LiveEvents.SubscribeAsync(client, vmId, sessionId: null, live);
        _live = live;
        await PlanCatchUpAsync(cancellationToken);
    }

    /// <summary>
    /// Which sessions to catch up from the store: those delivered already (after their seq) and every other one with
    /// events created since the origin (from the first of them). Runs after each (re)subscription and overflow.
    /// </summary>
    private async Task PlanCatchUpAsync(CancellationToken cancellationToken)
    {
        _catchUp.Clear();
        var sessions = await _grain.ListPersistedSessions().WaitAsync(cancellationToken);
        foreach (var session in sessions.OrderBy(s => s.CreatedAt))
        {
            if (_position.TryGet(session.SessionId, out var last))
            {
                if (session.LastSeq > last)
                {
                    _catchUp.Enqueue(session.SessionId);
                }
            }
            else if (session.LastSeq > 0 && await FirstSinceOriginAsync(session.SessionId, session.LastSeq, cancellationToken) is { } first)
            {
                _position.Set(session.SessionId, first - 1);
                _catchUp.Enqueue(session.SessionId);
            }
        }

        // Listed sessions the VM no longer has (destroyed while the client was away) leave the cursor.
        var persisted = sessions.Select(s => s.SessionId).ToHashSet(StringComparer.Ordinal);
        foreach (var gone in _position.SessionIds.Where(id => !persisted.Contains(id)).ToList())
        {
            _position.Remove(gone);
            _gone.Add(gone);
        }

        _catchingUp = _catchUp.Count > 0;
    }

    /// <summary>One page of the first session still catching up.</summary>
    private async Task<IReadOnlyList<SessionEventBatch>> CatchUpPageAsync(CancellationToken cancellationToken)
    {
        while (_catchUp.TryPeek(out var sessionId))
        {
            _position.TryGet(sessionId, out var last);
            var page = await ReadAsync(sessionId, last, SessionEventFeed.PageSize, cancellationToken);
            if (page is null || !SessionEventBatch.IsFullPage(page, SessionEventFeed.PageSize))
            {
                _catchUp.Dequeue();
            }

            if (page is { Count: > 0 })
            {
                _position.Set(sessionId, SessionEventCodec.SeqRange(page.Chunks, last + 1).Last);
                return [page];
            }
        }

        _catchingUp = false;
        return [];
    }

    /// <summary>Waits for live batches; returns them split by session, deduplicated and with gaps filled.</summary>
    private async Task<IReadOnlyList<SessionEventBatch>> ReadLiveAsync(CancellationToken cancellationToken)
    {
        var live = _live!;
        var parts = new List<SessionEventBatch>();
        var count = 0;
        while (parts.Count == 0)
        {
            if (live.TakeOverflow())
            {
                Overflows++;
                await PlanCatchUpAsync(cancellationToken); // what was dropped is in the store
                return [];
            }

            if (!live.TryRead(out var batch))
            {
                if (!await live.WaitToReadAsync(cancellationToken))
                {
                    throw new SessionEventFeed.LiveStreamEndedException("The live event stream completed.");
                }

                continue;
            }

            do
            {
                foreach (var sessionId in SessionsOf(batch))
                {
                    count += await AddLiveAsync(parts, sessionId, batch.Of(sessionId), cancellationToken);
                }
            }
            while (count < SessionEventFeed.PageSize && live.TryRead(out batch));
        }

        return parts;
    }

    /// <summary>Adds one session's part of a live batch after what it had, filling a gap from the store; returns how many events it added.</summary>
    private async Task<int> AddLiveAsync(List<SessionEventBatch> parts, string sessionId, SessionEventBatch batch, CancellationToken cancellationToken)
    {
        var (first, lastOfBatch) = SessionEventCodec.SeqRange(batch.Chunks);
        if (_gone.Contains(sessionId))
        {
            return 0;
        }

        if (!_position.TryGet(sessionId, out var last))
        {
            // First seen live: it starts at its first event since the origin, which may be before this batch.
            last = (await FirstSinceOriginAsync(sessionId, lastOfBatch, cancellationToken) ?? first) - 1;
            last = Math.Min(last, first - 1);
        }

        if (lastOfBatch <= last)
        {
            return 0;
        }

        if (first <= last)
        {
            batch = batch.After(last);
            first = last + 1;
        }

        var added = 0;
        while (last < first - 1)
        {
            var page = await ReadAsync(sessionId, last, (int)Math.Min(SessionEventFeed.PageSize, first - 1 - last), cancellationToken);
            if (page is null)
            {
                return added;
            }

            if (page.Count == 0)
            {
                throw new InvalidOperationException($"Session '{sessionId}' in VM '{vmId}': the live stream delivered seq {first} but the store has nothing after seq {last}.");
            }

            last = SessionEventCodec.SeqRange(page.Chunks, last + 1).Last;
            parts.Add(page);
            added += page.Count;
        }

        parts.Add(batch);
        _position.Set(sessionId, lastOfBatch);
        return added + batch.Count;
    }

    /// <summary>A history page; null when the session is gone (destroyed), which then leaves the stream.</summary>
    private async Task<SessionEventBatch?> ReadAsync(string sessionId, long since, int limit, CancellationToken cancellationToken)
    {
        try
        {
            var page = await _grain.GetSequencedEvents(sessionId, since, limit).WaitAsync(cancellationToken);
            return page as SessionEventBatch ?? new SessionEventBatch([.. page]);
        }
        catch (AgentOsException ex) when (ex.Code == AgentOsErrorCode.UnknownSession)
        {
            _position.Remove(sessionId);
            _gone.Add(sessionId);
            return null;
        }
    }

    /// <summary>
    /// The seq of the session's first event created at or after the origin, by binary search over its seqs (one small read
    /// each, stamps rising with seq); null when it has none. Once per session a stream meets.
    /// </summary>
    private async Task<long?> FirstSinceOriginAsync(string sessionId, long lastSeq, CancellationToken cancellationToken)
    {
        if (_position.OriginUnixMs <= 0)
        {
            return 1;
        }

        if (await CreatedAtAsync(sessionId, lastSeq, cancellationToken) is not { } newest || newest < _position.OriginUnixMs)
        {
            return null;
        }

        long low = 1, high = lastSeq;
        while (low < high)
        {
            var middle = low + ((high - low) / 2);
            if ((await CreatedAtAsync(sessionId, middle, cancellationToken) ?? long.MaxValue) >= _position.OriginUnixMs)
            {
                high = middle;
            }
            else
            {
                low = middle + 1;
            }
        }

        return low;
    }

    private async Task<long?> CreatedAtAsync(string sessionId, long seq, CancellationToken cancellationToken)
    {
        var page = await ReadAsync(sessionId, seq - 1, 1, cancellationToken);
        if (page is not { Count: > 0 })
        {
            return null;
        }

        var reader = new SessionEventCodec.RawReader(page.Chunks[0]);
        return reader.Next(out var e) ? e.CreatedAtUnixMs : null;
    }

    /// <summary>The sessions a batch holds events of, in order of first appearance (read from the bytes).</summary>
    private static List<string> SessionsOf(SessionEventBatch batch)
    {
        var sessions = new List<string>(1);
        foreach (var chunk in batch.Chunks)
        {
            var reader = new SessionEventCodec.RawReader(chunk);
            ReadOnlySpan<byte> previous = default;
            while (reader.Next(out var e))
            {
                if (!e.SessionIdUtf8.SequenceEqual(previous))
                {
                    previous = e.SessionIdUtf8;
                    var id = Encoding.UTF8.GetString(previous);
                    if (!sessions.Contains(id))
                    {
                        sessions.Add(id);
                    }
                }
            }
        }

        return sessions;
    }

    private async Task DisconnectAsync()
    {
        var subscription = _subscription;
        _subscription = null;
        _live = null;
        if (subscription is not null)
        {
            await subscription.DisposeAsync();
        }
    }

    public ValueTask DisposeAsync() => new(DisconnectAsync());
}
