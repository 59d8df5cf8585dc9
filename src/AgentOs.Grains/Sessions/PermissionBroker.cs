using AgentOs.Acp;

namespace AgentOs.Sessions;

/// <summary>How a permission request was settled: the ACP outcome the agent gets, and who decided (<see cref="PermissionReasons"/>).</summary>
internal sealed record PermissionAnswer(PermissionOutcome Outcome, string Reason);

/// <summary>The <c>reason</c> of a permission answer in <c>_agentos/client_response</c>.</summary>
internal static class PermissionReasons
{
    public const string Policy = "policy";
    public const string Client = "client";
    public const string Timeout = "timeout";
    public const string TurnCancelled = "turn_cancelled";
    public const string SessionStopped = "session_stopped";
    public const string AgentExited = "agent_exited";
}

/// <summary>
/// One session's permission policy and the requests waiting for a client's answer. Thread-safe: the
/// agent's requests arrive on the ACP read loop, answers come from grain calls, timeouts from timers.
/// A waiting request is identified by the seq of its recorded <c>session/request_permission</c> event;
/// it is registered before that event is appended, so a client that has seen the event always finds it.
/// </summary>
internal sealed class PermissionBroker(string sessionId, PermissionPolicy policy, TimeSpan timeout)
{
    /// <summary>Longest permission timeout a session may ask for.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromDays(1);

    private const int RememberedSettled = 256;

    /// <summary>How long a lookup waits for a request's event to be committed (it normally is within milliseconds).</summary>
    private static readonly TimeSpan SeqWait = TimeSpan.FromSeconds(10);

    private readonly object _lock = new();
    private readonly List<Waiting> _waiting = [];
    private readonly Dictionary<long, string> _settled = [];
    private readonly Queue<long> _settledOrder = new();
    private string? _closedReason;

    public PermissionPolicy Policy => policy;

    /// <summary>Refuses session options with an unknown policy or a timeout out of range.</summary>
    public static void Validate(CreateSessionOptions options)
    {
        if (!Enum.IsDefined(options.PermissionPolicy))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument,
                $"Unknown permission policy {(int)options.PermissionPolicy}; use {string.Join(", ", Enum.GetNames<PermissionPolicy>())}.");
        }

        if (options.PermissionTimeout is { } t && (t <= TimeSpan.Zero || t > MaxTimeout))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument,
                $"PermissionTimeout must be more than zero and at most {MaxTimeout.TotalHours:0} hours (was {t}); leave it null for the server's AgentOs:PermissionTimeout.");
        }
    }

    /// <summary>
    /// Decides a request: at once by policy, or (<see cref="PermissionPolicy.Ask"/>) when a client answers, the
    /// timeout rejects it, its turn is cancelled or the session stops.
    /// </summary>
    /// <param name="options">The options the agent offers.</param>
    /// <param name="paramsJson">The request's params, for <see cref="ListAsync"/>.</param>
    /// <param name="recorded">Completes with the seq of the request's event once it is committed.</param>
    public async Task<PermissionAnswer> DecideAsync(IReadOnlyList<PermissionOptionWire> options, string paramsJson, Task<long> recorded)
    {
        switch (policy)
        {
            case PermissionPolicy.AllowAll:
                return new PermissionAnswer(Allow(options), PermissionReasons.Policy);
            case PermissionPolicy.RejectAll:
                return new PermissionAnswer(Reject(options), PermissionReasons.Policy);
        }

        var now = DateTimeOffset.UtcNow;
        var waiting = new Waiting(options, paramsJson, recorded, now, now + timeout);
        lock (_lock)
        {
            if (_closedReason is { } closed)
            {
                return new PermissionAnswer(Cancelled, closed);
            }

            _waiting.Add(waiting);
        }

        try
        {
            return await waiting.Answer.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Settle(waiting, new PermissionAnswer(Reject(options), PermissionReasons.Timeout));
            return await waiting.Answer.Task.ConfigureAwait(false); // the timeout's answer, or one that came just before it
        }
    }

    /// <summary>A client's answer to the waiting request whose event has seq <paramref name="requestId"/>.</summary>
    public async Task RespondAsync(long requestId, string optionId)
    {
        var waiting = await FindAsync(requestId).ConfigureAwait(false) ?? throw NotPending(requestId);
        if (!waiting.Options.Any(o => o.OptionId == optionId))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument,
                $"The agent did not offer option '{optionId}' for permission request {requestId} of session '{sessionId}'; it offered: {string.Join(", ", waiting.Options.Select(o => o.OptionId))}. The request still waits.")
            { SessionId = sessionId };
        }

        if (!Settle(waiting, new PermissionAnswer(new PermissionOutcome { Outcome = "selected", OptionId = optionId }, PermissionReasons.Client)))
        {
            throw NotPending(requestId); // settled a moment ago (timeout, cancel)
        }
    }

    /// <summary>The requests waiting now, oldest first.</summary>
    public async Task<IReadOnlyList<PendingPermission>> ListAsync()
    {
        var result = new List<PendingPermission>();
        foreach (var waiting in Snapshot())
        {
            if (await SeqOfAsync(waiting).ConfigureAwait(false) is not { } seq || waiting.Answer.Task.IsCompleted)
            {
                continue;
            }

            result.Add(new PendingPermission
            {
                RequestId = seq,
                Options = waiting.Options.Select(o => new PermissionOption(o.OptionId, o.Name, o.Kind)).ToList(),
                Params = waiting.ParamsJson,
                RequestedAt = waiting.RequestedAt,
                ExpiresAt = waiting.ExpiresAt,
            });
        }

        return result;
    }

    /// <summary>
    /// Answers every waiting request with the outcome <c>cancelled</c>. With <paramref name="final"/>
    /// (the agent stopped or exited), later requests are answered so at once too.
    /// </summary>
    public void CancelAll(string reason, bool final)
    {
        Waiting[] all;
        lock (_lock)
        {
            if (final)
            {
                _closedReason ??= reason;
            }

            all = [.. _waiting];
        }

        foreach (var waiting in all)
        {
            Settle(waiting, new PermissionAnswer(Cancelled, reason));
        }
    }

    private static PermissionOutcome Cancelled => new() { Outcome = "cancelled" };

    /// <summary>
    /// <c>allow_once</c> first: the policy itself is the standing decision, and an agent's <c>allow_always</c>
    /// can leave lasting traces (Claude Code writes it into the project's settings). Else <c>allow_always</c>;
    /// else, for agents that give no kinds, the first option that is not a rejection (as before policies).
    /// </summary>
    private static PermissionOutcome Allow(IReadOnlyList<PermissionOptionWire> options) =>
        Selected(options.FirstOrDefault(o => o.Kind == "allow_once")
            ?? options.FirstOrDefault(o => o.Kind == "allow_always")
            ?? options.FirstOrDefault(o => o.Kind is not ("reject_once" or "reject_always")));

    /// <summary><c>reject_once</c>, else the outcome <c>cancelled</c>: never a lasting <c>reject_always</c> nobody chose.</summary>
    private static PermissionOutcome Reject(IReadOnlyList<PermissionOptionWire> options) =>
        Selected(options.FirstOrDefault(o => o.Kind == "reject_once"));

    private static PermissionOutcome Selected(PermissionOptionWire? option) =>
        option is null ? Cancelled : new PermissionOutcome { Outcome = "selected", OptionId = option.OptionId };

    /// <summary>Settles a waiting request once; false when it was settled already.</summary>
    private bool Settle(Waiting waiting, PermissionAnswer answer)
    {
        lock (_lock)
        {
            if (!_waiting.Remove(waiting))
            {
                return false;
            }

            if (waiting.Recorded.IsCompletedSuccessfully)
            {
                _settled[waiting.Recorded.Result] = answer.Reason;
                _settledOrder.Enqueue(waiting.Recorded.Result);
                if (_settledOrder.Count > RememberedSettled)
                {
                    _settled.Remove(_settledOrder.Dequeue());
                }
            }
        }

        waiting.Answer.TrySetResult(answer);
        return true;
    }

    private Waiting[] Snapshot()
    {
        lock (_lock)
        {
            return [.. _waiting];
        }
    }

    private async Task<Waiting?> FindAsync(long requestId)
    {
        foreach (var waiting in Snapshot())
        {
            if (await SeqOfAsync(waiting).ConfigureAwait(false) == requestId)
            {
                return waiting;
            }
        }

        return null;
    }

    /// <summary>The seq of the request's event; null when it could not be committed.</summary>
    private static async Task<long?> SeqOfAsync(Waiting waiting)
    {
        try
        {
            return await waiting.Recorded.WaitAsync(SeqWait).ConfigureAwait(false);
        }
        catch (Exception)
        {
            return null;
        }
    }

    private AgentOsException NotPending(long requestId)
    {
        string? reason;
        lock (_lock)
        {
            _settled.TryGetValue(requestId, out reason);
        }

        var message = reason is null
            ? $"Session '{sessionId}' has no permission request {requestId} waiting. A request id is the seq of its session/request_permission event; GetPendingPermissions lists those that wait."
            : $"Permission request {requestId} of session '{sessionId}' was already answered ({reason}).";
        return new AgentOsException(AgentOsErrorCode.PermissionNotPending, message) { SessionId = sessionId };
    }

    /// <summary>One waiting request (compared by reference).</summary>
    private sealed class Waiting(IReadOnlyList<PermissionOptionWire> options, string paramsJson, Task<long> recorded, DateTimeOffset requestedAt, DateTimeOffset expiresAt)
    {
        public IReadOnlyList<PermissionOptionWire> Options => options;

        public string ParamsJson => paramsJson;

        public Task<long> Recorded => recorded;

        public DateTimeOffset RequestedAt => requestedAt;

        public DateTimeOffset ExpiresAt => expiresAt;

        public TaskCompletionSource<PermissionAnswer> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
