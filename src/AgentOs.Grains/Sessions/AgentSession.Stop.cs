using AgentOs.Acp;
using AgentOs.Layout;

namespace AgentOs.Sessions;

/// <summary>Stopping the agent and recording its exit: graceful stop, restart, exit monitoring, disposal.</summary>
internal sealed partial class AgentSession
{
    /// <summary>
    /// Records that AgentOs restarts this agent (<c>_agentos/agent_restart</c>) and stops it. The caller then
    /// restores the session on a new agent.
    /// </summary>
    public async Task StopForRestartAsync(string reason)
    {
        await _recorder.AgentRestartAsync(reason, _process.Pid);
        Log.AgentRestarting(_context.Logger, _context.VmId, SessionId, _process.Pid, reason);
        await StopAsync();
    }

    private async Task<AgentExit> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            return await _exited.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            return new AgentExit(null, _process.StderrTail, Expected: false);
        }
    }

    private async Task MonitorExitAsync()
    {
        var exitCode = await _process.Exited.ConfigureAwait(false);
        // Drain whatever the agent wrote before exiting, so its last events precede the exit event.
        await _connection.Completion.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await CancelWaitingAnswersAsync(_stopping ? AnswerReasons.SessionStopped : AnswerReasons.AgentExited, final: true).ConfigureAwait(false);
        // Its terminals end with it, each one's end recorded before the agent's.
        await _terminals.CloseAsync(_stopping ? TerminalExitReasons.SessionStopped : TerminalExitReasons.AgentExited).ConfigureAwait(false);
        var exit = new AgentExit(exitCode, _process.StderrTail, _stopping);
        var reason = Volatile.Read(ref _storageFault) is not null ? "storage_unavailable" : null;
        long? limit = null;
        if (reason is null && _cgroup is { Limits: { } limits } && exitCode == 137 && _cgroup.OomKills > _oomKills)
        {
            // The kernel's OOM killer took the agent itself at its memory limit.
            (reason, limit) = ("memory_limit", limits.MemoryBytes);
            Volatile.Write(ref _limitFault, new AgentOsException(AgentOsErrorCode.ResourceLimit,
                $"The agent '{AgentType.Name}' was killed by the kernel at its memory limit of {limits.MemoryBytes / (1024 * 1024)} MiB "
                + "(CreateSessionOptions.Limits.MemoryBytes; default AgentOs:AgentLimits:MemoryBytes, at most AgentOs:MaxAgentLimits:MemoryBytes). "
                + "The session can be resumed; ask for more memory when you create a session.") { SessionId = SessionId, ExitCode = exitCode });
        }
        else if (reason is null && Interlocked.Read(ref _diskStop) is > 0 and var used)
        {
            var quota = _context.HomeQuota.Quota;
            (reason, limit) = ("disk_quota", quota);
            Volatile.Write(ref _limitFault, new AgentOsException(AgentOsErrorCode.ResourceLimit,
                $"The VM's home grew to {used / (1024 * 1024)} MiB, past its disk quota of {quota / (1024 * 1024)} MiB (AgentOs:VmDiskQuota), so its agent '{AgentType.Name}' was stopped. "
                + $"The session can be resumed: delete files in the VM (an agent started over the quota may add {HomeQuota.OverQuotaAllowance / (1024 * 1024)} MiB, to make room), or raise AgentOs:VmDiskQuota.")
            { SessionId = SessionId, ExitCode = exitCode });
        }

        _diskWatch?.Dispose();
        try
        {
            await _recorder.AgentExitAsync(exitCode, exit.StderrTail, exit.Expected, reason, limit).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The pipeline is gone (VM shutting down); the exit is still reported to callers.
        }

        if (_cgroup is not null)
        {
            await _cgroup.DisposeAsync().ConfigureAwait(false); // every process the agent left behind dies with it
        }

        _quota?.Dispose();

        Log.AgentExited(_context.Logger, _context.VmId, SessionId, exitCode, exit.Expected);
        _exited.TrySetResult(exit);
    }

    /// <summary>The VM's home passed what this agent may use (<see cref="HomeQuota"/>, on the thread pool): on record, and the agent is stopped.</summary>
    private void OnOverDiskQuota(long used)
    {
        _recorder.LimitMet("disk", _context.HomeQuota.Quota, used);
        Interlocked.Exchange(ref _diskStop, used);
        _process.Kill(); // what it started dies with its cgroup once it has exited
    }

    /// <summary>
    /// Stops the agent gracefully (stdin closed, then SIGTERM to the agent itself, then kill) and waits for its exit to be
    /// recorded. <paramref name="ending"/>: the session ends for good, so an agent that advertises <c>session/close</c> is
    /// sent it first (it frees the session's work), and, when <see cref="SessionEnd.Destroy"/>, <c>session/delete</c> too
    /// when advertised (it forgets the session). A refusal or no answer within 2 s is logged and the stop goes on.
    /// </summary>
    public async Task<AgentExit> StopAsync(SessionEnd ending = SessionEnd.None)
    {
        _stopping = true;
        if (_process is null || _connection is null)
        {
            return new AgentExit(null, "", Expected: true); // never started
        }

        if (ending != SessionEnd.None && _canClose)
        {
            await EndInAgentAsync(AcpMethods.SessionClose, c => c.CloseSessionAsync(new CloseSessionRequest { SessionId = AcpSessionId! }, TimeSpan.FromSeconds(2)));
        }

        if (ending == SessionEnd.Destroy && _canDelete)
        {
            await EndInAgentAsync(AcpMethods.SessionDelete, c => c.DeleteSessionAsync(new CloseSessionRequest { SessionId = AcpSessionId! }, TimeSpan.FromSeconds(2)));
        }

        if (!_exited.Task.IsCompleted)
        {
            // The agent gets its answers before its stdin closes.
            await CancelWaitingAnswersAsync(AnswerReasons.SessionStopped, final: true);
            await _connection.CloseOutputAsync();
            var (_, killed) = await _process.StopAsync(Options.AgentStopGracePeriod);
            if (killed)
            {
                Log.AgentKilled(_context.Logger, _context.VmId, SessionId, _process.Pid);
            }
        }

        return await WaitForExitAsync(TimeSpan.FromSeconds(10));
    }

    private async Task EndInAgentAsync(string method, Func<AcpConnection, Task> call)
    {
        if (AcpSessionId is null || _exited.Task.IsCompleted)
        {
            return;
        }

        try
        {
            await call(_connection);
        }
        catch (Exception ex) when (ex is AcpException or TimeoutException or OperationCanceledException or IOException)
        {
            Log.SessionEndRefused(_context.Logger, _context.VmId, SessionId, method, ex.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _terminals.CloseAsync(TerminalExitReasons.SessionStopped); // none is left running, whatever happened before
        _lossWatch.Dispose();
        _diskWatch?.Dispose();
        _quota?.Dispose(); // an agent that never started, or is gone
        if (_cgroup is not null)
        {
            await _cgroup.DisposeAsync();
        }

        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }

        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
    }
}

/// <summary>How a session ends when its agent stops: not at all (sleep, restart), closed, or destroyed.</summary>
internal enum SessionEnd
{
    None,
    Close,
    Destroy,
}
