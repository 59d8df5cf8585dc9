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
internal sealed partial class EventPipeline : IAsyncDisposable
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

    private long NextSeq(string sessionId)
    {
        if (!_lastSeq.TryGetValue(sessionId, out var last))
        {
            last = _store.GetLastSeq(sessionId);
        }

        _lastSeq[sessionId] = ++last;
        return last;
    }

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
