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
    private const int MaxCommitAttempts = 3;

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });
    private readonly Dictionary<string, long> _lastSeq = new(StringComparer.Ordinal);
    private readonly VmStore _store;
    private readonly IEventPublisher _publisher;
    private readonly ILogger _logger;
    private readonly string _vmId;
    private readonly TimeProvider _time;
    private readonly Task _writer;
    private TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _queued;
    private volatile bool _stopping;

    public EventPipeline(string vmId, VmStore store, IEventPublisher publisher, ILogger logger, TimeProvider? time = null)
    {
        _vmId = vmId;
        _store = store;
        _publisher = publisher;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Appends an event in call order. Never blocks; never fails while the pipeline runs.</summary>
    public void Append(string sessionId, string method, string paramsJson) => Append(sessionId, method, Encoding.UTF8.GetBytes(paramsJson));

    /// <summary>
    /// Appends an event whose params are UTF-8 JSON, in call order. The pipeline keeps
    /// <paramref name="paramsUtf8"/> until the event is published: the caller must not reuse it.
    /// </summary>
    public void Append(string sessionId, string method, ReadOnlyMemory<byte> paramsUtf8) => Enqueue(new Pending(sessionId, method, paramsUtf8, Now(), null));

    /// <summary>Appends and, when the queue is deep, waits for the writer to catch up (back-pressure).</summary>
    public ValueTask AppendWithBackPressureAsync(string sessionId, string method, ReadOnlyMemory<byte> paramsUtf8)
    {
        Append(sessionId, method, paramsUtf8);
        return Volatile.Read(ref _queued) > HighWater ? new ValueTask(WaitForDrainAsync()) : ValueTask.CompletedTask;
    }

    /// <summary>Appends and completes with the event's seq once it is committed and published.</summary>
    public Task<long> AppendAndWaitAsync(string sessionId, string method, string paramsJson)
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(new Pending(sessionId, method, Encoding.UTF8.GetBytes(paramsJson), Now(), done));
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
        while (Volatile.Read(ref _queued) > HighWater && !_writer.IsCompleted)
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
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            rows.Clear();
            waiters.Clear();
            var taken = 0;
            var bytes = 0;
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
                    waiters.Add(new Waiter(pending.Done!, null, 0));
                    continue;
                }

                var seq = NextSeq(pending.SessionId);
                rows.Add(new EventRow(pending.SessionId, seq, pending.CreatedAtMs, pending.Method, pending.Params));
                bytes += pending.Params.Length + 32;
                if (pending.Done is not null)
                {
                    waiters.Add(new Waiter(pending.Done, pending.SessionId, seq));
                }
            }

            var committed = rows.Count == 0 || Commit(rows, waiters);
            if (committed && rows.Count > 0)
            {
                encoder.Reset();
                foreach (var row in rows)
                {
                    encoder.Add(row.SessionId, row.Seq, row.CreatedAtMs, row.Method, row.Params.Span);
                }

                await PublishAsync(new SessionEventBatch(encoder.ToChunks())).ConfigureAwait(false);
            }

            Interlocked.Add(ref _queued, -taken);
            var signal = Interlocked.Exchange(ref _drained, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            signal.TrySetResult();
            CompleteWaiters(waiters, committed);
        }
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

    private bool Commit(List<EventRow> events, List<Waiter> waiters)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                _store.AppendEvents(events);
                return true;
            }
            catch (Microsoft.Data.Sqlite.SqliteException ex) when (ex.SqliteErrorCode == 19 && attempt < MaxCommitAttempts)
            {
                // SQLITE_CONSTRAINT: a row at a seq this pipeline thought free (another writer's). The cache is wrong,
                // not the batch: reload MAX(seq) of the batch's sessions and number the batch after it, once more.
                Log.SeqConflict(_logger, _vmId, ex.Message);
                Renumber(events, waiters);
            }
            catch (Exception ex) when (attempt < MaxCommitAttempts)
            {
                Log.CommitFailed(_logger, _vmId, events.Count, attempt, ex);
                Thread.Sleep(50 * attempt);
            }
            catch (Exception ex)
            {
                Log.CommitFailed(_logger, _vmId, events.Count, attempt, ex);
                // Nothing of this batch is durable: hand its seqs back so the next events reuse them
                // and the sequence stays gapless.
                foreach (var e in events)
                {
                    if (_lastSeq.TryGetValue(e.SessionId, out var last) && last >= e.Seq)
                    {
                        _lastSeq[e.SessionId] = e.Seq - 1;
                    }
                }

                return false;
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

    private static void CompleteWaiters(List<Waiter> waiters, bool committed)
    {
        foreach (var (done, _, seq) in waiters)
        {
            if (committed)
            {
                done.TrySetResult(seq);
            }
            else
            {
                done.TrySetException(new AgentOsException(AgentOsErrorCode.Unknown, "The VM's database could not commit events; see the server log."));
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
    }

    /// <summary>Who waits for an event's commit (<paramref name="SessionId"/> null for a flush marker), and its seq.</summary>
    private readonly record struct Waiter(TaskCompletionSource<long> Done, string? SessionId, long Seq);

    /// <summary>An appended event (or, with no session, a flush marker). A struct: no allocation per event.</summary>
    private readonly record struct Pending(string? SessionId, string Method, ReadOnlyMemory<byte> Params, long CreatedAtMs, TaskCompletionSource<long>? Done, bool Forget = false);
}
