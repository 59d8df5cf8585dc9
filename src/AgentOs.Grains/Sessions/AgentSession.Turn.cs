using System.Text;
using AgentOs.Acp;

namespace AgentOs.Sessions;

/// <summary>The prompt turn: <c>session/prompt</c>, its reply text, cancel and the cancel grace period.</summary>
internal sealed partial class AgentSession
{
    /// <summary>
    /// Runs one <c>session/prompt</c> turn. The caller runs one turn at a time per session (the VM's
    /// <see cref="TurnQueue"/>). After <see cref="CancelAsync"/>, an agent that has not answered within
    /// <see cref="AgentOsOptions.CancelGracePeriod"/> has its turn ended for it: the result is
    /// <c>cancelled</c>, the turn end is recorded with <c>forced</c>, and the agent's late answer is only
    /// awaited through <see cref="TurnOutcome.Abandoned"/>, never recorded as a second turn end.
    /// </summary>
    public async Task<TurnOutcome> PromptAsync(IReadOnlyList<ContentBlock> blocks)
    {
        ThrowIfExited();
        // After a fallback restore, the first prompt carries the earlier conversation.
        var context = Interlocked.Exchange(ref _pendingContext, null);
        var prompt = new PromptRequest
        {
            SessionId = AcpSessionId!,
            Prompt = context is null ? blocks : [.. blocks, new TextContentBlock { Text = context }],
        };
        _recorder.Prompt(prompt);
        lock (_textLock)
        {
            _turnText = new StringBuilder();
        }

        // Set before the request is written: a cancel that follows this prompt on the wire starts the grace period.
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _turnCancelled, cancelled);
        using var turnOver = new CancellationTokenSource();
        try
        {
            var call = CallAgentAsync(AcpMethods.SessionPrompt, () => _connection.PromptAsync(prompt, Options.PromptTimeout));
            if (await Task.WhenAny(call, GraceAfterCancelAsync(cancelled.Task, turnOver.Token)) != call)
            {
                return await EndIgnoredCancelAsync(call);
            }

            await turnOver.CancelAsync();
            PromptResponse response;
            try
            {
                response = await call;
            }
            catch (AgentOsException ex)
            {
                RecordLimitsMet();
                // Killed because its events could not be stored, or at its memory limit: that, not the exit, is what the caller must hear.
                var error = Volatile.Read(ref _storageFault) ?? Volatile.Read(ref _limitFault) ?? ex;
                await _recorder.TurnFailedAsync(error);
                throw error;
            }

            var stopReason = string.IsNullOrEmpty(response.StopReason) ? "end_turn" : response.StopReason;
            var reply = TakeTurnText();
            RecordLimitsMet();
            var lastSeq = await _recorder.TurnEndAsync(stopReason, _turnEndReason, response.Usage);
            ThrowIfStorageFailed(); // events of this turn were lost: it did not end well, whatever the agent says
            return new TurnOutcome(new PromptResult { StopReason = stopReason, Text = reply, LastSeq = lastSeq, Usage = ToTokenUsage(response.Usage) }, Abandoned: null);
        }
        finally
        {
            await turnOver.CancelAsync();
            Interlocked.CompareExchange(ref _turnCancelled, null, cancelled);
            TakeTurnText();
        }
    }

    private static TokenUsage? ToTokenUsage(UsageWire? usage) => usage is null ? null : new TokenUsage
    {
        InputTokens = usage.InputTokens,
        OutputTokens = usage.OutputTokens,
        TotalTokens = usage.TotalTokens,
        ThoughtTokens = usage.ThoughtTokens ?? 0,
        CachedReadTokens = usage.CachedReadTokens ?? 0,
        CachedWriteTokens = usage.CachedWriteTokens ?? 0,
    };

    /// <summary>Records the limits the agent's processes met during the turn and survived: refused forks, OOM-killed children.</summary>
    private void RecordLimitsMet()
    {
        if (_cgroup is not { Limits: { } limits } cgroup)
        {
            return;
        }

        var refused = cgroup.ForksRefused;
        if (refused > _forksRefused)
        {
            _recorder.LimitMet("processes", limits.Processes, refused - _forksRefused);
            _forksRefused = refused;
        }

        var oom = cgroup.OomKills;
        if (oom > _oomKills)
        {
            _recorder.LimitMet("memory", limits.MemoryBytes, oom - _oomKills);
            _oomKills = oom;
        }
    }

    /// <summary>Completes <see cref="AgentOsOptions.CancelGracePeriod"/> after the turn is cancelled; cancelled when the turn ends first.</summary>
    private async Task GraceAfterCancelAsync(Task cancelled, CancellationToken turnOver)
    {
        await cancelled.WaitAsync(turnOver);
        await Task.Delay(Options.CancelGracePeriod, turnOver);
    }

    /// <summary>The agent ignored <c>session/cancel</c> past the grace period: the turn ends here, as cancelled.</summary>
    private async Task<TurnOutcome> EndIgnoredCancelAsync(Task<PromptResponse> call)
    {
        var reply = TakeTurnText(); // what the agent still sends is recorded, but belongs to no turn
        var lastSeq = await _recorder.TurnEndForcedAsync(Options.CancelGracePeriod, _turnEndReason);
        Log.TurnEndedAfterIgnoredCancel(_context.Logger, _context.VmId, SessionId, _process.Pid, (long)Options.CancelGracePeriod.TotalMilliseconds);
        // The late answer (or failure) is observed here and goes nowhere else.
        var abandoned = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return new TurnOutcome(new PromptResult { StopReason = "cancelled", Text = reply, LastSeq = lastSeq }, abandoned);
    }

    private string TakeTurnText()
    {
        lock (_textLock)
        {
            var text = _turnText?.ToString() ?? "";
            _turnText = null;
            return text;
        }
    }

    /// <summary>
    /// The server is shutting down: a running turn is cancelled (as by <see cref="CancelAsync"/>) and its turn end records
    /// <c>reason: "server_shutdown"</c>. Nothing happens when no turn runs.
    /// </summary>
    public async Task EndTurnForShutdownAsync()
    {
        _turnEndReason = "server_shutdown";
        if (Volatile.Read(ref _turnCancelled) is null || _exited.Task.IsCompleted)
        {
            return;
        }

        try
        {
            await CancelAsync();
        }
        catch (AgentOsException)
        {
            // The agent is gone or broken: stopping it ends the turn.
        }
    }

    /// <summary>
    /// Sends ACP <c>session/cancel</c> for the running turn, answers its waiting permission requests with
    /// <c>cancelled</c> (as ACP asks of the client), and starts the turn's cancel grace period.
    /// </summary>
    public async Task CancelAsync()
    {
        ThrowIfExited();
        await CallAgentAsync(AcpMethods.SessionCancel, async () =>
        {
            await _connection.CancelAsync(new SessionIdParams { SessionId = AcpSessionId! });
            return true;
        });
        _answers.CancelAll(AnswerReasons.TurnCancelled, final: false);
        Volatile.Read(ref _turnCancelled)?.TrySetResult();
    }
}
