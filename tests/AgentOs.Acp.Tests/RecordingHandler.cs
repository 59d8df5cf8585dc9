using System.Text.Json;

namespace AgentOs.Acp.Tests;

/// <summary>A notification or request the handler received, copied while it was valid.</summary>
public sealed record RecordedMessage(string Method, string ParamsJson, string? IdJson);

/// <summary>A line the connection skipped.</summary>
public sealed record MalformedLine(string Preview, string Reason);

/// <summary>
/// An <see cref="IAcpClientHandler"/> that records everything, in the order the read loop delivered
/// it, and lets tests wait for a number of records instead of sleeping.
/// </summary>
public sealed class RecordingHandler : IAcpClientHandler
{
    /// <summary>Notifications, in delivery order.</summary>
    public SignalList<RecordedMessage> Notifications { get; } = new();

    /// <summary>Requests from the agent, in announcement order.</summary>
    public SignalList<RecordedMessage> Requests { get; } = new();

    /// <summary>Lines reported to <see cref="OnMalformedLine"/>.</summary>
    public SignalList<MalformedLine> MalformedLines { get; } = new();

    /// <summary>Every callback, in order: <c>notification:METHOD</c>, <c>request:METHOD</c>, <c>malformed</c>.</summary>
    public SignalList<string> Events { get; } = new();

    /// <summary>Runs after a notification is recorded; may throw or return a pending task.</summary>
    public Func<AcpIncomingMessage, ValueTask>? NotificationHook { get; set; }

    /// <summary>Answers the agent's requests; unknown methods by default.</summary>
    public Func<AcpIncomingMessage, CancellationToken, Task<AcpReply>> RequestResponder { get; set; } =
        static (request, _) => Task.FromResult(AcpReply.MethodNotFound(request.Method));

    public ValueTask OnNotificationAsync(AcpIncomingMessage notification)
    {
        Events.Add("notification:" + notification.Method);
        Notifications.Add(new RecordedMessage(notification.Method, notification.ParamsJson, null));
        return NotificationHook?.Invoke(notification) ?? ValueTask.CompletedTask;
    }

    public Task<AcpReply> OnRequestAsync(AcpIncomingMessage request, CancellationToken cancellationToken)
    {
        Events.Add("request:" + request.Method);
        Requests.Add(new RecordedMessage(request.Method, request.ParamsJson, request.Id?.GetRawText()));
        return RequestResponder(request, cancellationToken);
    }

    public void OnMalformedLine(string preview, string reason)
    {
        Events.Add("malformed");
        MalformedLines.Add(new MalformedLine(preview, reason));
    }

    /// <summary>Reads an integer member of a recorded message's params.</summary>
    public static int ParamInt(RecordedMessage message, string property)
    {
        using var document = JsonDocument.Parse(message.ParamsJson);
        return document.RootElement.GetProperty(property).GetInt32();
    }
}

/// <summary>A thread-safe append-only list whose readers can wait for it to reach a size.</summary>
public sealed class SignalList<T>
{
    private readonly Lock _gate = new();
    private readonly List<T> _items = [];
    private readonly List<(int Count, TaskCompletionSource Signal)> _waiters = [];

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _items.Count;
            }
        }
    }

    /// <summary>A copy of the items so far.</summary>
    public IReadOnlyList<T> Snapshot()
    {
        lock (_gate)
        {
            return [.. _items];
        }
    }

    public void Add(T item)
    {
        List<TaskCompletionSource>? ready = null;
        lock (_gate)
        {
            _items.Add(item);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_items.Count >= _waiters[i].Count)
                {
                    (ready ??= []).Add(_waiters[i].Signal);
                    _waiters.RemoveAt(i);
                }
            }
        }

        if (ready is not null)
        {
            foreach (var signal in ready)
            {
                signal.TrySetResult();
            }
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> items were added, then returns a snapshot.</summary>
    public async Task<IReadOnlyList<T>> WaitForCountAsync(int count, TimeSpan? timeout = null)
    {
        Task wait;
        lock (_gate)
        {
            if (_items.Count >= count)
            {
                return [.. _items];
            }

            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, signal));
            wait = signal.Task;
        }

        try
        {
            await wait.WaitAsync(timeout ?? TestTimeouts.Signal);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Expected {count} {typeof(T).Name} item(s), got {Count}; the last ones: {string.Join(" | ", Snapshot().TakeLast(10))}");
        }

        return Snapshot();
    }
}
