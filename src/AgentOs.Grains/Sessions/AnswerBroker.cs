namespace AgentOs.Sessions;

/// <summary>How a request of the agent was settled: the ACP result the agent gets (JSON), and who decided (<see cref="AnswerReasons"/>).</summary>
internal sealed record BrokerAnswer(string ResultJson, string Reason);

/// <summary>The <c>reason</c> of an answer to a permission or elicitation request in <c>_agentos/client_response</c>.</summary>
internal static class AnswerReasons
{
    public const string Policy = "policy";
    public const string Client = "client";
    public const string Timeout = "timeout";
    public const string TurnCancelled = "turn_cancelled";
    public const string SessionStopped = "session_stopped";
    public const string AgentExited = "agent_exited";
}

/// <summary>
/// One kind of agent request a client may have to answer (<see cref="PermissionQuestion"/>, <see cref="ElicitationQuestion"/>):
/// what the session's policy answers at once, what a timeout and a cancel answer, and how a client's answer is checked.
/// </summary>
internal abstract class ClientQuestion
{
    /// <summary>The ACP method of the request.</summary>
    public abstract string Method { get; }

    /// <summary>What <paramref name="policy"/> answers at once; null when a client decides (<see cref="PermissionPolicy.Ask"/>).</summary>
    public abstract string? ByPolicy(PermissionPolicy policy);

    /// <summary>The answer when nobody answered in time.</summary>
    public abstract string OnTimeout { get; }

    /// <summary>The answer when the turn is cancelled or the session stops.</summary>
    public abstract string Cancelled { get; }
}

/// <summary>
/// One session's requests that wait for a client's answer, of every kind (<see cref="ClientQuestion"/>): permission requests and
/// elicitations, under one policy (<see cref="PermissionPolicy"/>) and one timeout. Thread-safe: the agent's requests arrive on the ACP
/// read loop, answers come from grain calls, timeouts from timers. A waiting request is identified by the seq of its recorded event;
/// it is registered before that event is appended, so a client that has seen the event always finds it.
/// </summary>
internal sealed class AnswerBroker(string sessionId, PermissionPolicy policy, TimeSpan timeout)
{
    /// <summary>Longest answer timeout a session may ask for.</summary>
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
    /// timeout answers it, its turn is cancelled or the session stops.
    /// </summary>
    /// <param name="question">The request's kind and what it offers.</param>
    /// <param name="paramsJson">The request's params, for <see cref="ListAsync"/>.</param>
    /// <param name="recorded">Completes with the seq of the request's event once it is committed.</param>
    public async Task<BrokerAnswer> DecideAsync(ClientQuestion question, string paramsJson, Task<long> recorded)
    {
        if (question.ByPolicy(policy) is { } byPolicy)
        {
            return new BrokerAnswer(byPolicy, AnswerReasons.Policy);
        }

        var now = DateTimeOffset.UtcNow;
        var waiting = new Waiting(question, paramsJson, recorded, now, now + timeout);
        lock (_lock)
        {
            if (_closedReason is { } closed)
            {
                return new BrokerAnswer(question.Cancelled, closed);
            }

            _waiting.Add(waiting);
        }

        try
        {
            return await waiting.Answer.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Settle(waiting, new BrokerAnswer(question.OnTimeout, AnswerReasons.Timeout));
            return await waiting.Answer.Task.ConfigureAwait(false); // the timeout's answer, or one that came just before it
        }
    }

    /// <summary>
    /// A client's answer to the waiting request of <paramref name="method"/> whose event has seq <paramref name="requestId"/>:
    /// <paramref name="answer"/> makes the result from the request's question, or throws (the request keeps waiting).
    /// </summary>
    public async Task RespondAsync<TQuestion>(long requestId, string method, AgentOsErrorCode notPending, Func<TQuestion, string> answer)
        where TQuestion : ClientQuestion
    {
        var waiting = await FindAsync(requestId).ConfigureAwait(false);
        if (waiting?.Question is not TQuestion question || question.Method != method)
        {
            throw NotPending(requestId, method, notPending, waiting?.Question.Method);
        }

        var result = answer(question);
        if (!Settle(waiting, new BrokerAnswer(result, AnswerReasons.Client)))
        {
            throw NotPending(requestId, method, notPending, null); // settled a moment ago (timeout, cancel)
        }
    }

    /// <summary>The requests of <paramref name="method"/> waiting now, oldest first, with the seq of each one's event.</summary>
    public async Task<IReadOnlyList<WaitingRequest>> ListAsync(string method)
    {
        var result = new List<WaitingRequest>();
        foreach (var waiting in Snapshot().Where(w => w.Question.Method == method))
        {
            if (await SeqOfAsync(waiting).ConfigureAwait(false) is not { } seq || waiting.Answer.Task.IsCompleted)
            {
                continue;
            }

            result.Add(new WaitingRequest(seq, waiting.Question, waiting.ParamsJson, waiting.RequestedAt, waiting.ExpiresAt));
        }

        return result;
    }

    /// <summary>
    /// Answers every waiting request as cancelled. With <paramref name="final"/> (the agent stopped or exited),
    /// later requests are answered so at once too.
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
            Settle(waiting, new BrokerAnswer(waiting.Question.Cancelled, reason));
        }
    }

    /// <summary>Settles a waiting request once; false when it was settled already.</summary>
    private bool Settle(Waiting waiting, BrokerAnswer answer)
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

    private AgentOsException NotPending(long requestId, string method, AgentOsErrorCode code, string? otherMethod)
    {
        string? reason;
        lock (_lock)
        {
            _settled.TryGetValue(requestId, out reason);
        }

        var list = method == AgentOs.Acp.AcpMethods.SessionRequestPermission ? "GetPendingPermissions" : "GetPendingElicitations";
        var message = otherMethod is not null
            ? $"Request {requestId} of session '{sessionId}' is {otherMethod}, not {method}; answer it with the call for its kind."
            : reason is null
                ? $"Session '{sessionId}' has no {method} request {requestId} waiting. A request id is the seq of its {method} event; {list} lists those that wait."
                : $"The {method} request {requestId} of session '{sessionId}' was already answered ({reason}).";
        return new AgentOsException(code, message) { SessionId = sessionId };
    }

    /// <summary>One waiting request (compared by reference).</summary>
    private sealed class Waiting(ClientQuestion question, string paramsJson, Task<long> recorded, DateTimeOffset requestedAt, DateTimeOffset expiresAt)
    {
        public ClientQuestion Question => question;

        public string ParamsJson => paramsJson;

        public Task<long> Recorded => recorded;

        public DateTimeOffset RequestedAt => requestedAt;

        public DateTimeOffset ExpiresAt => expiresAt;

        public TaskCompletionSource<BrokerAnswer> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>A request waiting for a client's answer, as <see cref="AnswerBroker.ListAsync"/> lists it.</summary>
internal sealed record WaitingRequest(long Seq, ClientQuestion Question, string ParamsJson, DateTimeOffset RequestedAt, DateTimeOffset ExpiresAt);
