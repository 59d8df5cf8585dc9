using System.Text;
using System.Threading.Channels;
using AgentOs.Storage;
using Microsoft.Extensions.Logging;

namespace AgentOs.Events;

/// <summary>Publishes committed events to live subscribers (the VM's Orleans stream).</summary>
internal interface IEventPublisher
{
    Task PublishAsync(SessionEventBatch batch);
}

/// <summary>
/// The one path every event of a VM takes: append (ordered, from any thread) → one writer loop that
/// assigns per-session seq, commits a batch in one SQLite transaction, then publishes that batch.
/// Nothing is published before it is committed; seq is assigned only here, so it is gapless and
/// never reused. Appends never route through a grain call.
/// </summary>
internal sealed class EventPipeline : IAsyncDisposable
{
    /// <summary>Most events committed in one transaction and published as one stream item.</summary>
    public const int MaxBatch = 1024;

    /// <summary>
    /// A batch stops taking events past this many params bytes, so the stream item (the encoded
    /// batch, serialized once more by the memory stream) stays below the large object heap's
    /// 85,000 bytes on the server and in every subscriber.
    /// </summary>
    public const int MaxBatchBytes = 48 * 1024;

    private const int HighWater = 64 * 1024;

    /// <summary>How many times a batch is renumbered after a unique-key conflict before it counts as failed (it never loops).</summary>
    private const int MaxRenumbers = 2;

    /// <summary>How long the writer waits for more events while a loss is still to be recorded.</summary>
    private static readonly TimeSpan LossMarkerRetry = TimeSpan.FromSeconds(1);

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });
    private readonly Dictionary<string, long> _lastSeq = new(StringComparer.Ordinal);
    private readonly VmStore _store;
    private readonly IEventPublisher _publisher;
    private readonly ILogger _logger;
    private readonly string _vmId;
    private readonly TimeProvider _time;
    private readonly Task _writer;
    private readonly TimeSpan _retryBudget;

    /// <summary>Per session, the seq up to which seqs are durably reserved (see <c>VmStore.Reservations.cs</c>), and the next range's size. Writer loop only.</summary>
    private readonly Dictionary<string, (long Reserved, int Step)> _reserved = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _batchMax = new(StringComparer.Ordinal);
    private readonly List<SeqReservation> _reservations = [];
    private readonly DiskReserve? _disk;

    /// <summary>Events of a session that could not be committed, not yet recorded as <c>_agentos/events_lost</c>. Writer loop only.</summary>
    private readonly Dictionary<string, EventsLost> _lost = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Action<EventsLost>> _lossWatchers = new(StringComparer.Ordinal);
    private volatile bool _retrying;
    private TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _queued;
    private volatile bool _stopping;

    /// <summary>Starts the writer loop. A batch that fails to commit is retried for <paramref name="retryBudget"/> (the VM's appenders held back meanwhile) before its events count as lost.</summary>
    public EventPipeline(string vmId, VmStore store, IEventPublisher publisher, ILogger logger, TimeSpan? retryBudget = null, DiskReserve? disk = null, TimeProvider? time = null)
    {
        _disk = disk;
        _vmId = vmId;
        _retryBudget = retryBudget ?? TimeSpan.FromSeconds(30);
        _store = store;
        _publisher = publisher;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        RecoverLostSeqs();
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Appends an event in call order. Never blocks; never fails while the pipeline runs.</summary>
    public void Append(string sessionId, string method, string paramsJson) => Append(sessionId, method, Encoding.UTF8.GetBytes(paramsJson));

    /// <summary>
    /// Appends an event whose params are UTF-8 JSON, in call order. The pipeline keeps
    /// <paramref name="paramsUtf8"/> until the event is published: the caller must not reuse it.
    /// </summary>
    public void Append(string sessionId, string method, ReadOnlyMemory<byte> paramsUtf8) => Enqueue(new Pending(sessionId, method, paramsUtf8, Now(), null));

    /// <summary>
    /// Appends and, when the queue is deep or storage is failing (a commit being retried), waits for the writer to
    /// catch up (back-pressure: the agent's reader stops reading, its stdout pipe fills, and the agent blocks).
    /// </summary>
    public ValueTask AppendWithBackPressureAsync(string sessionId, string method, ReadOnlyMemory<byte> paramsUtf8)
    {
        Append(sessionId, method, paramsUtf8);
        return MustWait ? new ValueTask(WaitForDrainAsync()) : ValueTask.CompletedTask;
    }

    private bool MustWait => _retrying || Volatile.Read(ref _queued) > HighWater;

    /// <summary>
    /// Calls <paramref name="onLost"/> (on the writer's thread; it must not block) when events of
    /// <paramref name="sessionId"/> could not be committed within the retry budget. One watcher per session.
    /// </summary>
    public IDisposable WatchLoss(string sessionId, Action<EventsLost> onLost)
    {
        _lossWatchers[sessionId] = onLost;
        return new LossWatch(this, sessionId, onLost);
    }

    private sealed class LossWatch(EventPipeline pipeline, string sessionId, Action<EventsLost> onLost) : IDisposable
    {
        public void Dispose() => pipeline._lossWatchers.TryRemove(new KeyValuePair<string, Action<EventsLost>>(sessionId, onLost));
    }

    /// <summary>Appends and completes with the event's seq once it is committed and published.</summary>
    public Task<long> AppendAndWaitAsync(string sessionId, string method, string paramsJson) =>
        AppendAndWaitAsync(sessionId, method, Encoding.UTF8.GetBytes(paramsJson));

    /// <summary>Appends UTF-8 JSON params (kept until published: not to be reused) and completes with the event's seq once it is committed and published.</summary>
    public Task<long> AppendAndWaitAsync(string sessionId, string method, ReadOnlyMemory<byte> paramsUtf8)
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(new Pending(sessionId, method, paramsUtf8, Now(), done));
        return done.Task;
    }

    /// <summary>Completes once everything appended before this call is committed and published.</summary>
    public Task FlushAsync()
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(new Pending(null, "", default, 0, done));
        return done.Task;
    }

    /// <summary>Forgets a session's seq counter (after its events were deleted).</summary>
    public Task ForgetSessionAsync(string sessionId)
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(new Pending(sessionId, "", default, 0, done, Forget: true));
        return done.Task;
    }

    /// <summary>Millisecond precision: what the store keeps is exactly what subscribers saw.</summary>
    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private void Enqueue(Pending pending)
    {
        Interlocked.Increment(ref _queued);
        if (!_queue.Writer.TryWrite(pending))
        {
            Interlocked.Decrement(ref _queued);
            throw new ObjectDisposedException(nameof(EventPipeline), $"The event pipeline of VM '{_vmId}' is stopped.");
        }
    }

    private async Task WaitForDrainAsync()
    {
        while (MustWait && !_writer.IsCompleted)
        {
            await Volatile.Read(ref _drained).Task.ConfigureAwait(false);
        }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        var rows = new List<EventRow>(MaxBatch);
        var waiters = new List<Waiter>();
        var encoder = new SessionEventCodec.Writer(SessionEventCodec.ChunkSize, SessionEventCodec.ChunkSize);
        while (await WaitForWorkAsync(reader).ConfigureAwait(false))
        {
            rows.Clear();
            waiters.Clear();
            var taken = 0;
            var bytes = 0;
            var markers = AddLossMarkers(rows);
            while (rows.Count < MaxBatch && bytes < MaxBatchBytes && reader.TryRead(out var pending))
            {
                taken++;
                if (pending.SessionId is null)
                {
                    waiters.Add(new Waiter(pending.Done!, null, 0)); // a flush marker
                    continue;
                }

                if (pending.Forget)
                {
                    _lastSeq.Remove(pending.SessionId);
                    _lost.Remove(pending.SessionId);
                    _reserved.Remove(pending.SessionId);
                    waiters.Add(new Waiter(pending.Done!, null, 0));
                    continue;
                }

                if (_lost.ContainsKey(pending.SessionId) && !markers.Contains(pending.SessionId))
                {
                    markers.Add(pending.SessionId); // a loss recorded since this batch began: its marker goes first
                    rows.Add(LossMarker(pending.SessionId));
                }

                var seq = NextSeq(pending.SessionId);
                rows.Add(new EventRow(pending.SessionId, seq, pending.CreatedAtMs, pending.Method, pending.Params));
                bytes += pending.Params.Length + 32;
                if (pending.Done is not null)
                {
                    waiters.Add(new Waiter(pending.Done, pending.SessionId, seq));
                }
            }

            var failed = rows.Count == 0 ? null : await CommitAsync(rows, waiters).ConfigureAwait(false);
            if (rows.Count > 0)
            {
                encoder.Reset();
                var any = false;
                foreach (var row in rows)
                {
                    if (failed is null || !failed.Contains(row.SessionId))
                    {
                        encoder.Add(row.SessionId, row.Seq, row.CreatedAtMs, row.Method, row.Params.Span);
                        any = true;
                    }
                }

                if (any)
                {
                    await PublishAsync(new SessionEventBatch(encoder.ToChunks())).ConfigureAwait(false);
                }
            }

            foreach (var session in markers)
            {
                if (failed is null || !failed.Contains(session))
                {
                    _lost.Remove(session); // the loss is on record now
                }
            }

            Interlocked.Add(ref _queued, -taken);
            var signal = Interlocked.Exchange(ref _drained, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            signal.TrySetResult();
            CompleteWaiters(waiters, failed);
        }
    }

    /// <summary>Waits for events; while a loss is still to be recorded, also wakes now and then to record it.</summary>
    private async Task<bool> WaitForWorkAsync(ChannelReader<Pending> reader)
    {
        if (_lost.Count == 0)
        {
            return await reader.WaitToReadAsync().ConfigureAwait(false);
        }

        try
        {
            return await reader.WaitToReadAsync().AsTask().WaitAsync(LossMarkerRetry).ConfigureAwait(false) || _lost.Count > 0;
        }
        catch (TimeoutException)
        {
            return true;
        }
    }

    /// <summary>Puts an <c>_agentos/events_lost</c> marker first in the batch for every session with an unrecorded loss.</summary>
    private HashSet<string> AddLossMarkers(List<EventRow> rows)
    {
        var sessions = new HashSet<string>(_lost.Keys, StringComparer.Ordinal);
        foreach (var session in sessions)
        {
            rows.Add(LossMarker(session));
        }

        return sessions;
    }

    private EventRow LossMarker(string sessionId)
    {
        var (method, json) = AgentOsEvents.EventsLost(_lost[sessionId]);
        return new EventRow(sessionId, NextSeq(sessionId), Now(), method, json);
    }

    private long NextSeq(string sessionId)
    {
        if (!_lastSeq.TryGetValue(sessionId, out var last))
        {
            last = _store.GetLastSeq(sessionId);
        }

        _lastSeq[sessionId] = ++last;
        return last;
    }

    /// <summary>
    /// Commits the batch, retrying a failure with backoff for up to the retry budget while appenders are held back.
    /// Returns null when all of it is committed, else the sessions whose events are lost: when storage stays broken the
    /// batch is split by session, so a fault that is one session's (its events) costs no other session anything.
    /// </summary>
    private async Task<HashSet<string>?> CommitAsync(List<EventRow> events, List<Waiter> waiters)
    {
        var error = await TryCommitAsync(events, waiters).ConfigureAwait(false);
        if (error is null)
        {
            return null;
        }

        var failed = new HashSet<string>(StringComparer.Ordinal);
        var sessions = events.Select(e => e.SessionId).Distinct(StringComparer.Ordinal).ToList();
        foreach (var session in sessions)
        {
            var own = events.Where(e => e.SessionId == session).ToList();
            var ownError = sessions.Count == 1 ? error : TryCommitOnce(own, waiters);
            if (ownError is null)
            {
                // Committed on its own, perhaps renumbered: what is published must carry the seqs stored.
                for (int i = 0, k = 0; i < events.Count; i++)
                {
                    if (events[i].SessionId == session)
                    {
                        events[i] = own[k++];
                    }
                }

                continue;
            }

            failed.Add(session);
            HandBack(own);
            var count = own.Count(e => e.Method != AgentOsEventMethods.EventsLost);
            var reason = StorageFault.Describe(ownError);
            var lost = _lost.TryGetValue(session, out var earlier)
                ? earlier with { Count = earlier.Count + count }
                : new EventsLost(session, count, own[0].CreatedAtMs, reason);
            _lost[session] = lost;
            Log.LostEvents(_logger, _vmId, session, count, _retryBudget.TotalSeconds, ownError);
            if (_lossWatchers.TryGetValue(session, out var watcher))
            {
                try
                {
                    watcher(lost);
                }
                catch (Exception ex)
                {
                    Log.CommitFailed(_logger, _vmId, count, 0, ex);
                }
            }
        }

        return failed.Count == 0 ? null : failed;
    }

    /// <summary>One commit with its renumbering after a conflict, then retries with backoff until the budget is spent. Returns the last error, or null.</summary>
    private async Task<Exception?> TryCommitAsync(List<EventRow> events, List<Waiter> waiters)
    {
        var started = _time.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(50);
        for (var attempt = 1; ; attempt++)
        {
            var error = TryCommitOnce(events, waiters);
            if (error is null)
            {
                if (_retrying)
                {
                    Log.CommitRecovered(_logger, _vmId, events.Count, attempt, _time.GetElapsedTime(started).TotalSeconds);
                }

                return null;
            }

            if (error is Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 13 } && _disk?.Release() == true)
            {
                continue; // SQLITE_FULL, and the reserve is free space now: at once
            }

            Log.CommitFailed(_logger, _vmId, events.Count, attempt, error);
            if (_time.GetElapsedTime(started) + delay > _retryBudget)
            {
                return error;
            }

            _retrying = true; // appenders wait from now on: the agents' pipes fill and they block
            await Task.Delay(delay, _time).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
        }
    }

    /// <summary>Commits once; a unique-key conflict (another writer's row at a seq this pipeline thought free) is renumbered and tried again, at most twice.</summary>
    private Exception? TryCommitOnce(List<EventRow> events, List<Waiter> waiters)
    {
        for (var renumbered = 0; ; renumbered++)
        {
            try
            {
                var reservations = ReservationsFor(events);
                _store.AppendEvents(events, reservations);
                foreach (var r in reservations ?? [])
                {
                    _reserved[r.SessionId] = (r.Reserved, Math.Min(_reserved.GetValueOrDefault(r.SessionId).Step * 2, VmStore.MaxReservationStep));
                }

                return null;
            }
            catch (Microsoft.Data.Sqlite.SqliteException ex) when (ex.SqliteErrorCode == 19 && renumbered < MaxRenumbers)
            {
                // SQLITE_CONSTRAINT: the cache is wrong, not the batch: reload MAX(seq) of the batch's sessions and
                // number the batch after it, once more.
                Log.SeqConflict(_logger, _vmId, ex.Message);
                Renumber(events, waiters);
            }
            catch (Exception ex)
            {
                return ex;
            }
        }
    }

    /// <summary>
    /// The seq ranges this batch needs made durable before it is published (with <see cref="Durability.Process"/>):
    /// one per session whose highest seq here is past its reservation, reaching that seq plus the session's next step
    /// (256, doubling to 4096), so a long stream costs one fsync per few thousand events. Null when none is needed.
    /// </summary>
    private List<SeqReservation>? ReservationsFor(List<EventRow> events)
    {
        if (_store.Durability != Durability.Process)
        {
            return null;
        }

        _batchMax.Clear();
        foreach (var e in events)
        {
            ref var max = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_batchMax, e.SessionId, out _);
            max = Math.Max(max, e.Seq);
        }

        _reservations.Clear();
        foreach (var (session, max) in _batchMax)
        {
            var (reserved, step) = _reserved.GetValueOrDefault(session);
            if (max > reserved)
            {
                step = Math.Max(step, VmStore.MinReservationStep);
                _reserved[session] = (reserved, step);
                _reservations.Add(new SeqReservation(session, max + step));
            }
        }

        return _reservations.Count == 0 ? null : _reservations;
    }

    /// <summary>
    /// At activation: seqs an earlier boot handed out that hold no stored event (a power cut took them) are filled with
    /// <c>_agentos/events_lost</c> markers, and every reservation is dropped, in one fsynced commit.
    /// </summary>
    private void RecoverLostSeqs()
    {
        var markers = new List<EventRow>();
        foreach (var range in _store.FindLostSeqRanges())
        {
            var count = (int)(range.Last - range.First + 1);
            var reason = $"power loss: seqs {range.First} to {range.Last} were handed out before the host lost power or rebooted, and no event "
                + "with them was stored (AgentOs:Durability=process keeps what a killed server committed, not what a power cut took); "
                + "anything seen at these seqs before is gone";
            var (method, json) = AgentOsEvents.EventsLost(new EventsLost(range.SessionId, count, Now(), reason));
            for (var seq = range.First; seq <= range.Last; seq++)
            {
                markers.Add(new EventRow(range.SessionId, seq, Now(), method, json));
            }

            Log.PowerLossFilled(_logger, _vmId, range.SessionId, range.First, range.Last);
        }

        _store.ClearSeqReservations(markers);
    }

    /// <summary>Nothing of these events is durable and nothing was published: their seqs go back, so the sequence stays gapless (the loss marker takes the next one).</summary>
    private void HandBack(List<EventRow> events)
    {
        foreach (var e in events)
        {
            if (_lastSeq.TryGetValue(e.SessionId, out var last) && last >= e.Seq)
            {
                _lastSeq[e.SessionId] = e.Seq - 1;
            }
        }
    }

    /// <summary>Numbers <paramref name="events"/> after what the store holds, in order per session, and their waiters with them.</summary>
    private void Renumber(List<EventRow> events, List<Waiter> waiters)
    {
        var renumbered = new Dictionary<(string Session, long Seq), long>();
        foreach (var session in events.Select(e => e.SessionId).Distinct(StringComparer.Ordinal).ToList())
        {
            _lastSeq[session] = _store.GetLastSeq(session);
        }

        for (var i = 0; i < events.Count; i++)
        {
            var row = events[i];
            var seq = ++LastSeqRef(row.SessionId);
            renumbered[(row.SessionId, row.Seq)] = seq;
            events[i] = row with { Seq = seq };
        }

        for (var i = 0; i < waiters.Count; i++)
        {
            if (waiters[i].SessionId is { } session && renumbered.TryGetValue((session, waiters[i].Seq), out var seq))
            {
                waiters[i] = waiters[i] with { Seq = seq };
            }
        }
    }

    private ref long LastSeqRef(string sessionId) =>
        ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_lastSeq, sessionId, out _);

    private async Task PublishAsync(SessionEventBatch batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _publisher.PublishAsync(batch).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (attempt < 20 && !_stopping)
            {
                // A full stream queue is transient: wait for the consumers, keep order. Not while
                // stopping: the silo may be shutting its stream queues down, and the events are
                // committed already (subscribers replay them from the store).
                Log.PublishFailed(_logger, _vmId, batch.Count, attempt, ex);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 10 * attempt * attempt))).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.PublishFailed(_logger, _vmId, batch.Count, attempt, ex);
                return;
            }
        }
    }

    private void CompleteWaiters(List<Waiter> waiters, HashSet<string>? failed)
    {
        _retrying = false;
        foreach (var (done, session, seq) in waiters)
        {
            if (failed is null || session is null || !failed.Contains(session))
            {
                done.TrySetResult(seq);
            }
            else
            {
                done.TrySetException(StorageFault.Unavailable(_vmId, session, _retryBudget, _lost.GetValueOrDefault(session)));
            }
        }
    }

    /// <summary>
    /// From now on a publish that fails is not retried: the VM is going down, perhaps with its
    /// silo, and every event is committed already. Commits are unaffected.
    /// </summary>
    public void BeginStopping() => _stopping = true;

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        try
        {
            // A clean stop: everything is committed, so no seq is at risk; fsynced, so a later reboot finds no range to fill.
            _store.ClearSeqReservations();
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex)
        {
            Log.CommitFailed(_logger, _vmId, 0, 0, ex);
        }
    }

    /// <summary>Who waits for an event's commit (<paramref name="SessionId"/> null for a flush marker), and its seq.</summary>
    private readonly record struct Waiter(TaskCompletionSource<long> Done, string? SessionId, long Seq);

    /// <summary>An appended event (or, with no session, a flush marker). A struct: no allocation per event.</summary>
    private readonly record struct Pending(string? SessionId, string Method, ReadOnlyMemory<byte> Params, long CreatedAtMs, TaskCompletionSource<long>? Done, bool Forget = false);
}
