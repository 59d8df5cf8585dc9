using System.Collections.Concurrent;

namespace AgentOs.Server.Tests.Infrastructure;

/// <summary>Collects live events from an observable and lets a test wait for a given seq of a session.</summary>
public sealed class EventCollector : IObserver<SessionEvent>, IDisposable
{
    private readonly ConcurrentQueue<SessionEvent> _events = new();
    private readonly object _gate = new();
    private readonly List<(Func<bool> Condition, TaskCompletionSource Signal)> _waiters = [];
    private IAsyncDisposable? _subscription;

    /// <summary>Subscribes to the VM's live events; returns once the subscription is in place.</summary>
    public static async Task<EventCollector> SubscribeAsync(AgentOs.Client.VmHandle vm)
    {
        var collector = new EventCollector();
        collector._subscription = await vm.SubscribeAsync(collector);
        return collector;
    }

    public IReadOnlyList<SessionEvent> For(string sessionId) => _events.Where(e => e.SessionId == sessionId).ToList();

    public Exception? Error { get; private set; }

    /// <summary>Waits until the session's event with <paramref name="seq"/> has arrived.</summary>
    public Task WaitForSeqAsync(string sessionId, long seq, TimeSpan? timeout = null) =>
        WaitForAsync(e => e.SessionId == sessionId && e.Seq >= seq, $"session {sessionId} seq {seq}", timeout);

    /// <summary>Waits until an event matching <paramref name="predicate"/> has arrived (or had arrived).</summary>
    public async Task<SessionEvent> WaitForAsync(Func<SessionEvent, bool> predicate, string description, TimeSpan? timeout = null)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        SessionEvent? match = null;
        bool Reached()
        {
            match = _events.FirstOrDefault(predicate);
            return match is not null;
        }

        lock (_gate)
        {
            if (Reached())
            {
                return match!;
            }

            _waiters.Add((Reached, signal));
        }

        try
        {
            await signal.Task.WaitAsync(timeout ?? TestTimeouts.Default);
            return match!;
        }
        catch (TimeoutException)
        {
            var last = _events.LastOrDefault();
            throw new TimeoutException($"Waited {(timeout ?? TestTimeouts.Default).TotalSeconds} s for {description}; saw {_events.Count} events (last: session {last?.SessionId} seq {last?.Seq} {last?.Method}).{(Error is null ? "" : " Subscription failed: " + Error)}");
        }
    }

    public void OnNext(SessionEvent value)
    {
        _events.Enqueue(value);
        lock (_gate)
        {
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Condition())
                {
                    _waiters[i].Signal.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    public void OnError(Exception error) => Error = error;

    public void OnCompleted()
    {
    }

    public void Dispose() => _subscription?.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
