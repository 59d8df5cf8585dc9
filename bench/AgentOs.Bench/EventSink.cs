using System.Collections.Concurrent;
using System.Diagnostics;
using AgentOs.Client;

namespace AgentOs.Bench;

/// <summary>
/// A live subscriber to one VM's events, in the bench process (so every event crosses the wire from
/// the server). Keeps every event per session and the arrival time of the latest one; cheap on the
/// delivery path, all checking happens afterwards.
/// </summary>
internal sealed class EventSink : IObserver<SessionEvent>, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, SessionEvents> _sessions = new(StringComparer.Ordinal);
    private IAsyncDisposable? _subscription;

    public Exception? Error { get; private set; }

    /// <summary>Subscribes to <paramref name="vm"/>; returns once the subscription is in place.</summary>
    public static async Task<EventSink> SubscribeAsync(VmHandle vm)
    {
        var sink = new EventSink();
        sink._subscription = await vm.SubscribeAsync(sink);
        return sink;
    }

    public SessionEvents For(string sessionId) => _sessions.GetOrAdd(sessionId, _ => new SessionEvents());

    public void OnNext(SessionEvent value) => For(value.SessionId).Add(value);

    public void OnError(Exception error) => Error = error;

    public void OnCompleted()
    {
    }

    public async ValueTask DisposeAsync()
    {
        if (_subscription is not null)
        {
            await _subscription.DisposeAsync();
        }
    }
}

/// <summary>The events of one session as the subscriber got them.</summary>
internal sealed class SessionEvents
{
    private readonly Lock _gate = new();
    private readonly List<SessionEvent> _events = [];
    private readonly List<(long Seq, TaskCompletionSource Signal)> _waiters = [];
    private long _maxSeq;
    private long _lastArrival;

    public long MaxSeq
    {
        get
        {
            lock (_gate)
            {
                return _maxSeq;
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _events.Count;
            }
        }
    }

    /// <summary>Stopwatch timestamp of the latest event's arrival.</summary>
    public long LastArrival => Interlocked.Read(ref _lastArrival);

    public void Add(SessionEvent e)
    {
        var now = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            _events.Add(e);
            _maxSeq = Math.Max(_maxSeq, e.Seq);
            Interlocked.Exchange(ref _lastArrival, now);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_maxSeq >= _waiters[i].Seq)
                {
                    _waiters[i].Signal.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>Waits until an event with seq ≥ <paramref name="seq"/> arrived; false on timeout.</summary>
    public async Task<bool> WaitForSeqAsync(long seq, TimeSpan timeout)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_maxSeq >= seq)
            {
                return true;
            }

            _waiters.Add((seq, signal));
        }

        try
        {
            await signal.Task.WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>The events with <paramref name="after"/> &lt; seq ≤ <paramref name="upTo"/>, in arrival order.</summary>
    public List<SessionEvent> Range(long after, long upTo)
    {
        lock (_gate)
        {
            return _events.Where(e => e.Seq > after && e.Seq <= upTo).ToList();
        }
    }

    /// <summary>Drops what was collected (keeps memory flat between phases).</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _events.Clear();
            _events.TrimExcess();
        }
    }
}
