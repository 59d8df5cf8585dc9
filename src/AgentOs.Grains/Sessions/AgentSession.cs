using System.Text;
using System.Text.Json;
using AgentOs.Acp;
using AgentOs.Agents;
using AgentOs.Events;
using AgentOs.Layout;
using AgentOs.Sandbox;
using Microsoft.Extensions.Logging;

namespace AgentOs.Sessions;

/// <summary>What a session needs from its VM.</summary>
internal sealed record SessionContext(string VmId, VmPaths Paths, EventPipeline Events, AgentOsOptions Options, AgentSandbox Sandbox, AgentCgroups Cgroups, AgentQuotas Quotas, HomeQuota HomeQuota, ILogger Logger);

/// <summary>How to restore a suspended session: its agent's own session id, and its transcript for the fallback.</summary>
internal sealed record ResumePlan(string? AcpSessionId, Func<IReadOnlyList<SessionEvent>> ReadTranscript);

/// <summary>
/// A finished turn. <paramref name="Abandoned"/> is set when AgentOs ended the turn because the agent had not
/// answered <c>session/prompt</c> within the cancel grace period: it completes (never faults) when the agent
/// finally answers or goes away. Until then the agent is busy with the old turn.
/// </summary>
internal sealed record TurnOutcome(PromptResult Result, Task? Abandoned);

/// <summary>
/// One live session: an agent process, its ACP connection, and the client side of ACP. Runs off the
/// grain's turn where it must: the read loop calls <see cref="OnNotificationAsync"/> and
/// <see cref="OnRequestAsync"/> on the thread pool, and those touch only thread-safe parts (the
/// event pipeline, the turn's text under a lock), never grain state.
/// </summary>
internal sealed partial class AgentSession : IAcpClientHandler, IAsyncDisposable
{
    private const int MaxRecordedMalformedLines = 20;

    private readonly SessionContext _context;
    private readonly AgentOsEvents _recorder;
    private readonly object _textLock = new();
    private readonly TaskCompletionSource<AgentExit> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private StringBuilder? _turnText;
    private AgentProcess _process = null!;
    private AcpConnection _connection = null!;
    private volatile bool _stopping;
    private volatile bool _restoring;
    private int _malformedLines;
    private int _replayedNotifications;
    private string? _pendingContext;
    private TaskCompletionSource? _turnCancelled;
    private JsonElement? _sessionMeta;
    private string _agentCwd = VmPaths.Home;
    private readonly IDisposable _lossWatch;
    private AgentOsException? _storageFault;
    private volatile string? _turnEndReason;
    private AgentCgroup? _cgroup;
    private IDisposable? _quota;
    private AgentOsException? _limitFault;
    private long _forksRefused;
    private long _oomKills;

    /// <summary>Watches the VM's home for this agent (<see cref="HomeQuota"/>); set once the agent runs.</summary>
    private IDisposable? _diskWatch;

    /// <summary>The home's size when the agent was stopped for passing the VM's disk quota; 0 while it was not.</summary>
    private long _diskStop;

    /// <summary>The agent advertises <c>session/close</c>: a closing session is closed in the agent before it stops.</summary>
    private bool _canClose;

    /// <summary>The agent advertises <c>session/delete</c>: a destroyed session is deleted in the agent too.</summary>
    private bool _canDelete;

    private AgentSession(SessionContext context, string sessionId, AgentType agentType)
    {
        _context = context;
        _recorder = new AgentOsEvents(context.Events, sessionId);
        SessionId = sessionId;
        AgentType = agentType;
        _lossWatch = context.Events.WatchLoss(sessionId, OnEventsLost);
        _terminals = new SessionTerminals(sessionId, _recorder, context.Options.MaxTerminalsPerSession);
    }

    public string SessionId { get; }

    public AgentType AgentType { get; }

    public string? AcpSessionId { get; private set; }

    public int Pid => _process.Pid;

    /// <summary>What the agent uses now, from its cgroup.</summary>
    public AgentUsage Usage()
    {
        var usage = new AgentUsage { SessionId = SessionId, AgentType = AgentType.Name, ProcessId = _process.Pid };
        if (_cgroup is not { Limits: { } l } cgroup)
        {
            return usage;
        }

        var (memory, cpu, processes) = cgroup.Usage();
        return usage with
        {
            MemoryBytes = memory,
            CpuTime = cpu,
            Processes = processes,
            Limits = new ResourceLimits { MemoryBytes = l.MemoryBytes, Processes = l.Processes, CpuWeight = l.CpuWeight, CpuCores = l.CpuCores > 0 ? l.CpuCores : null },
        };
    }

    /// <summary>Completes when the agent process has exited and its exit is recorded.</summary>
    public Task<AgentExit> Exited => _exited.Task;

    private EventPipeline Events => _context.Events;

    private AgentOsOptions Options => _context.Options;

    private void ThrowIfExited()
    {
        ThrowIfStorageFailed();
        if (_exited.Task.IsCompleted)
        {
            throw AgentExitedError(_exited.Task.Result, "The agent is no longer running");
        }
    }

    /// <summary>
    /// Runs an ACP call and turns transport failures into typed errors: a closed connection becomes
    /// <see cref="AgentOsErrorCode.AgentExited"/> with the exit code and stderr tail.
    /// </summary>
    private async Task<T> CallAgentAsync<T>(string method, Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (AcpConnectionClosedException)
        {
            var exit = await WaitForExitAsync(TimeSpan.FromSeconds(3));
            throw AgentExitedError(exit, $"The agent exited during '{method}'");
        }
        catch (AcpTimeoutException ex)
        {
            throw new AgentOsException(AgentOsErrorCode.AgentTimeout,
                $"The agent '{AgentType.Name}' did not answer '{method}' within {ex.Timeout.TotalSeconds:0.#} s. Stderr tail:\n{_process.StderrTail}")
            { SessionId = SessionId, StderrTail = _process.StderrTail };
        }
        catch (AcpRemoteException ex)
        {
            throw new AgentOsException(AgentOsErrorCode.AgentProtocolError, $"The agent '{AgentType.Name}' rejected '{method}': {ex.RemoteMessage} (code {ex.Code}).")
            { SessionId = SessionId, StderrTail = _process.StderrTail };
        }
        catch (AcpException ex)
        {
            throw new AgentOsException(AgentOsErrorCode.AgentProtocolError, $"The agent '{AgentType.Name}' broke the protocol in '{method}': {ex.Message}")
            { SessionId = SessionId, StderrTail = _process.StderrTail };
        }
    }

    /// <summary>Once events of this session were lost, nothing it does counts: every call fails with StorageUnavailable.</summary>
    private void ThrowIfStorageFailed()
    {
        if (Volatile.Read(ref _storageFault) is { } fault)
        {
            throw fault;
        }
    }

    /// <summary>
    /// The pipeline could not store events of this session (on the writer's thread: must not block). The running turn
    /// fails with StorageUnavailable, and the agent is killed: what it would still do could not be recorded. Its exit
    /// makes the session Crashed (resumable); the transcript gets <c>_agentos/events_lost</c> once storage works.
    /// </summary>
    private void OnEventsLost(EventsLost lost)
    {
        var fault = StorageFault.Unavailable(_context.VmId, SessionId, Options.StorageRetryTimeout, lost);
        if (Interlocked.CompareExchange(ref _storageFault, fault, null) is null && _process is { } process)
        {
            _ = Task.Run(process.Kill);
        }
    }

    private AgentOsException AgentExitedError(AgentExit exit, string what)
    {
        var code = exit.ExitCode is { } c ? $"exit code {c}" : "exit code unknown";
        var tail = string.IsNullOrWhiteSpace(exit.StderrTail) ? "(no stderr output)" : exit.StderrTail;
        var garbage = _malformedLines > 0 ? $" It also wrote {_malformedLines} line(s) that were not ACP JSON." : "";
        return new AgentOsException(AgentOsErrorCode.AgentExited,
            $"{what} (agent '{AgentType.Name}', pid {_process.Pid}, {code}).{garbage} Stderr tail:\n{tail}")
        {
            SessionId = SessionId,
            ExitCode = exit.ExitCode,
            StderrTail = exit.StderrTail,
        };
    }
}

/// <summary>How an agent process ended.</summary>
internal sealed record AgentExit(int? ExitCode, string StderrTail, bool Expected);
