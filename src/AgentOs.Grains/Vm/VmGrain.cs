using AgentOs.Agents;
using AgentOs.Events;
using AgentOs.Hosting;
using AgentOs.Layout;
using AgentOs.Sandbox;
using AgentOs.Sessions;
using AgentOs.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace AgentOs.Vm;

/// <summary>
/// One VM. Reentrant: a prompt turn awaits its agent for minutes while other calls (more sessions,
/// history reads, cancel) run. Orleans still runs one piece of this grain at a time, so the
/// session table needs no lock; agents' output never enters the grain, it goes from each
/// session's read loop straight into the <see cref="EventPipeline"/>.
/// </summary>
/// <remarks>
/// Sleep: the grain deactivates when idle for <see cref="AgentOsOptions.VmIdleTimeout"/> (Orleans
/// never collects a grain with a call in flight, so never during a prompt) or on <see cref="Sleep"/>.
/// Deactivation stops every agent and marks its session suspended; activation marks sessions a
/// killed server left active as suspended. History needs no agent.
/// </remarks>
[Reentrant]
internal sealed class VmGrain(
    IOptions<AgentOsOptions> options,
    AgentTypeRegistry agentTypes,
    SessionOptionsProtector protector,
    AgentSandbox sandbox,
    DiskReserve disk,
    ServerShutdown shutdown,
    AgentCgroups cgroups,
    AgentQuotas quotas,
    ILogger<VmGrain> logger) : Grain, IVmGrain, IVmShutdown
{
    private readonly Dictionary<string, AgentSession> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Task<AgentSession>> _starting = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TurnQueue> _turns = new(StringComparer.Ordinal);
    private readonly AgentOsOptions _options = options.Value;
    private VmPaths _paths = null!;
    private VmStore _store = null!;
    private SessionLifecycle _lifecycle = null!;
    private EventPipeline _events = null!;
    private HomeQuota _homeQuota = null!;
    private int _runningPrompts;
    /// <summary>Completes when the last running or queued prompt ends; a new one from the first prompt on.</summary>
    private TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _deactivating;

    /// <summary>
    /// This activation made the VM's folder and no session was created in it: a read of a VM id nobody used. Such a VM
    /// deactivates after the read and its folder goes with it, so reads of unused ids leave no files or open descriptors.
    /// </summary>
    private bool _pristine;

    /// <summary><see cref="DestroyVm"/> was called: deactivation removes the VM's folders.</summary>
    private bool _destroying;

    private string Id => this.GetPrimaryKeyString();

    private SessionContext Context => new(Id, _paths, _events, _options, sandbox, cgroups, quotas, _homeQuota, logger);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _paths = new VmPaths(_options.DataDirectory, Id, sandbox.MapsHome, _options.DatabaseDirectory);
        _pristine = !Directory.Exists(_paths.Root) && !File.Exists(_paths.Database);
        PrivateFiles.CreateDirectory(_paths.HostHome);
        _store = new VmStore(_paths.Database, _options.Durability);
        _homeQuota = new HomeQuota(Id, _paths.HostHome, _options.VmDiskQuota, logger);
        _lifecycle = new SessionLifecycle(_store, Id);
        var recovered = _lifecycle.RecoverAfterRestart();
        _events = new EventPipeline(Id, _store, new StreamPublisher(this.GetStreamProvider(AgentOsNames.StreamProvider), Id), logger, _options.StorageRetryTimeout, disk);
        Log.VmActivated(logger, Id, _store.CountSessions(), recovered);
        shutdown.Register(Id);
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        Log.VmDeactivating(logger, Id, reason.Description, _sessions.Count);
        shutdown.Unregister(Id);
        _deactivating = true;
        _events.BeginStopping();
        await Task.WhenAll(_sessions.Values.Select(s => StopSessionAsync(s, StopCause.Sleep)));
        _sessions.Clear();
        await _events.DisposeAsync();
        _homeQuota.Dispose();
        var unused = _pristine && _store.CountSessions() == 0;
        _store.Dispose();
        if (unused || _destroying)
        {
            RemoveVmFolders();
        }
    }

    /// <summary>The VM's folders (home, run, database): gone, for a destroyed VM or one a read of an unused id made.</summary>
    private void RemoveVmFolders()
    {
        try
        {
            Directory.Delete(_paths.Root, recursive: true);
            if (Path.GetDirectoryName(_paths.Database) is { } databaseFolder && Directory.Exists(databaseFolder))
            {
                Directory.Delete(databaseFolder, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.VmFoldersNotRemoved(logger, Id, ex.Message);
        }
    }

    /// <summary>After a read: an unused VM does not stay active (its database open) for the idle timeout.</summary>
    private void DeactivateIfUnused()
    {
        if (_pristine && _sessions.Count == 0 && _starting.Count == 0)
        {
            DeactivateOnIdle();
        }
    }

    public async Task<SessionInfo> CreateSession(string agentType, CreateSessionOptions? options = null)
    {
        ThrowIfDestroying();
        _pristine = false; // a VM someone creates a session in is kept (and not deactivated by a read meanwhile)
        options ??= new CreateSessionOptions();
        agentTypes.Validate(agentType);
        var cwd = options.Cwd ?? VmPaths.Home;
        _paths.ToHost(cwd); // validates before anything is created
        McpServerMapping.Validate(options.McpServers);
        AnswerBroker.Validate(options);
        SessionEnvironment.Validate(options.Env);
        shutdown.ThrowIfShuttingDown("A new session");
        quotas.EnsureRoom(Id); // before the session's row: a refused session leaves nothing behind
        disk.ThrowIfLow("A new session");
        var type = await agentTypes.ResolveAsync(agentType); // installs the software package on first use
        _ = EnforcedLimits.Resolve(options.Limits, type.Limits, _options); // validates the asked limits against AgentOs:MaxAgentLimits

        var sessionId = Guid.CreateVersion7().ToString("N");
        _lifecycle.Create(sessionId, type.Name, cwd, protector.Protect(options));
        var session = await StartAsync(sessionId, type, options, cwd, resume: null, savedConfig: null);
        return session.Info;
    }

    public async Task<SessionInfo> ResumeSession(string sessionId) => (await LiveOrResumedAsync(sessionId)).Info;

    public Task<PromptResult> SendPrompt(string sessionId, string prompt)
    {
        if (string.IsNullOrWhiteSpace(prompt))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "The prompt is empty.") { SessionId = sessionId };
        }

        return SendPromptContent(sessionId, [PromptContent.FromText(prompt)]);
    }

    public async Task<PromptResult> SendPromptContent(string sessionId, IReadOnlyList<PromptContent> prompt)
    {
        var length = PromptContentMapping.Length(prompt ?? []);
        if (length > _options.MaxPromptLength)
        {
            throw new AgentOsException(AgentOsErrorCode.PayloadTooLarge,
                $"The prompt has {length} characters; the limit is {_options.MaxPromptLength} (AgentOs:MaxPromptLength).") { SessionId = sessionId };
        }

        ThrowIfDestroying();
        shutdown.ThrowIfShuttingDown("A new turn");
        disk.ThrowIfLow("A new turn");
        // A prompt to a suspended session resumes it first.
        var session = await LiveOrResumedAsync(sessionId);
        var blocks = PromptContentMapping.ToWire(prompt!, session.Info.Capabilities, sessionId);
        var turns = TurnsOf(sessionId);
        if (_runningPrompts++ == 0) // running or queued: either keeps the VM awake
        {
            _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        try
        {
            await turns.EnterAsync(blocks);
            var settling = false;
            if (shutdown.IsShuttingDown)
            {
                turns.Leave(); // it waited in the queue while the shutdown began: it never runs
                shutdown.ThrowIfShuttingDown("A queued turn");
            }

            try
            {
                // While this prompt waited, the agent may have been restarted (see SettleAbandonedTurnAsync).
                session = CurrentSession(session);
                var turn = await session.PromptAsync(blocks);
                if (turn.Abandoned is { } abandoned)
                {
                    // The agent ignored session/cancel: the next turn waits until it is usable again.
                    settling = true;
                    _ = SettleAbandonedTurnAsync(session, abandoned, turns);
                }

                return turn.Result;
            }
            finally
            {
                if (!settling)
                {
                    turns.Leave();
                }
            }
        }
        finally
        {
            if (--_runningPrompts == 0)
            {
                _idle.TrySetResult();
            }

            await ForgetIfExitedAsync(session);
        }
    }

    /// <inheritdoc />
    public async Task PrepareForShutdown()
    {
        // Running turns end as cancelled, recorded with the reason; an agent that ignores session/cancel has its turn
        // ended for it after the cancel grace period, as for any cancel.
        foreach (var session in _sessions.Values.Where(s => !s.Exited.IsCompleted))
        {
            await session.EndTurnForShutdownAsync();
        }

        if (_runningPrompts > 0)
        {
            // Bounded: a turn still running past this ends when its agent is stopped below.
            await _idle.Task.WaitAsync(_options.CancelGracePeriod + TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        }

        _deactivating = true; // what remains is deactivation's: no restart of an abandoned turn
        await Task.WhenAll(_sessions.Values.Select(s => StopSessionAsync(s, StopCause.Sleep)));
        _sessions.Clear();
        await _events.FlushAsync();
    }

    private TurnQueue TurnsOf(string sessionId)
    {
        if (!_turns.TryGetValue(sessionId, out var turns))
        {
            turns = new TurnQueue(sessionId, new AgentOsEvents(_events, sessionId), _options.MaxQueuedPrompts);
            _turns[sessionId] = turns;
        }

        return turns;
    }

    /// <summary>The session's live agent now: the one registered, when it runs, else <paramref name="session"/> (whose calls then fail with AgentExited).</summary>
    private AgentSession CurrentSession(AgentSession session) =>
        _sessions.TryGetValue(session.SessionId, out var current) && !current.Exited.IsCompleted ? current : session;

    /// <summary>
    /// After a turn ended because its agent ignored <c>session/cancel</c>, holds the session's turn until the
    /// agent is usable: it answers the old prompt within one more <see cref="AgentOsOptions.CancelGracePeriod"/>,
    /// or it is restarted and the session restored (as a resume does). Closing, destroying or sleeping meanwhile
    /// stops the agent instead. Runs on the grain's scheduler.
    /// </summary>
    private async Task SettleAbandonedTurnAsync(AgentSession session, Task abandoned, TurnQueue turns)
    {
        var sessionId = session.SessionId;
        try
        {
            using var wait = new CancellationTokenSource();
            if (await Task.WhenAny(abandoned, Task.Delay(_options.CancelGracePeriod, wait.Token)) == abandoned)
            {
                await wait.CancelAsync();
                return; // the agent ended the old turn itself
            }

            if (_deactivating || !_sessions.TryGetValue(sessionId, out var current) || current != session || session.Exited.IsCompleted)
            {
                return; // closed, destroyed, put to sleep or exited meanwhile: nothing to restart
            }

            await session.StopForRestartAsync("cancel_ignored");
            if (_sessions.TryGetValue(sessionId, out current) && current == session)
            {
                _sessions.Remove(sessionId);
                _lifecycle.Stopped(sessionId, StopCause.Restart, crashed: false, session.CurrentConfigJson());
                await session.DisposeAsync();
            }

            if (!_deactivating)
            {
                await LiveOrResumedAsync(sessionId);
            }
        }
        catch (Exception ex)
        {
            Log.AgentRestartFailed(logger, Id, sessionId, ex.Message);
        }
        finally
        {
            turns.Leave();
        }
    }

    public Task CancelPrompt(string sessionId) => LiveSession(sessionId).CancelAsync();

    public Task RespondPermission(string sessionId, long requestId, string optionId)
    {
        if (string.IsNullOrEmpty(optionId))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "The option id is empty; GetPendingPermissions lists the options of each waiting request.") { SessionId = sessionId };
        }

        if (_sessions.TryGetValue(sessionId ?? "", out var session))
        {
            return session.RespondPermissionAsync(requestId, optionId);
        }

        RequirePersisted(sessionId!);
        throw new AgentOsException(AgentOsErrorCode.PermissionNotPending,
            $"Session '{sessionId}' in VM '{Id}' has no permission request {requestId} waiting: its agent is not running (requests still waiting when it stopped were answered 'cancelled').") { SessionId = sessionId };
    }

    public async Task<IReadOnlyList<PendingPermission>> GetPendingPermissions(string sessionId)
    {
        if (_sessions.TryGetValue(sessionId ?? "", out var session))
        {
            return await session.PendingPermissionsAsync();
        }

        RequirePersisted(sessionId!);
        return [];
    }

    public Task RespondElicitation(string sessionId, long requestId, ElicitationAnswer answer)
    {
        if (answer is null)
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "The answer is missing; use ElicitationAnswer.Accept(…), Decline() or Cancel().") { SessionId = sessionId };
        }

        if (_sessions.TryGetValue(sessionId ?? "", out var session))
        {
            return session.RespondElicitationAsync(requestId, answer);
        }

        RequirePersisted(sessionId!);
        throw new AgentOsException(AgentOsErrorCode.ElicitationNotPending,
            $"Session '{sessionId}' in VM '{Id}' has no elicitation {requestId} waiting: its agent is not running (elicitations still waiting when it stopped were answered 'cancel').") { SessionId = sessionId };
    }

    public async Task<IReadOnlyList<PendingElicitation>> GetPendingElicitations(string sessionId)
    {
        if (_sessions.TryGetValue(sessionId ?? "", out var session))
        {
            return await session.PendingElicitationsAsync();
        }

        RequirePersisted(sessionId!);
        return [];
    }

    public Task<SessionModes?> GetModes(string sessionId) => Task.FromResult(LiveSession(sessionId).Info.Modes);

    public Task<SessionModels?> GetModels(string sessionId) => Task.FromResult(LiveSession(sessionId).Info.Models);

    public Task<IReadOnlyList<ConfigOption>> GetConfigOptions(string sessionId) => Task.FromResult(LiveSession(sessionId).Info.ConfigOptions);

    public Task SetMode(string sessionId, string modeId) => SetConfigAsync(sessionId, AgentSession.ModeCategory, modeId);

    public Task SetModel(string sessionId, string modelId) => SetConfigAsync(sessionId, AgentSession.ModelCategory, modelId);

    public Task SetThoughtLevel(string sessionId, string level) => SetConfigAsync(sessionId, AgentSession.ThoughtLevelCategory, level);

    /// <summary>Sets a value on the live session and stores the session's configuration, to re-apply on resume.</summary>
    private async Task SetConfigAsync(string sessionId, string category, string value)
    {
        var session = LiveSession(sessionId);
        await session.SetConfigAsync(category, value);
        _lifecycle.SaveConfig(sessionId, session.CurrentConfigJson());
    }

    public async Task CloseSession(string sessionId)
    {
        RequirePersisted(sessionId);
        await StartedOrFailedAsync(sessionId);
        if (_sessions.Remove(sessionId, out var session))
        {
            await StopSessionAsync(session, StopCause.Close);
        }
        else
        {
            _lifecycle.Close(sessionId);
        }
    }

    public async Task DestroySession(string sessionId)
    {
        RequirePersisted(sessionId);
        await StartedOrFailedAsync(sessionId);
        if (_sessions.Remove(sessionId, out var session))
        {
            await StopAgentAsync(session, SessionEnd.Destroy);
            await session.DisposeAsync();
        }

        _turns.Remove(sessionId);
        // Everything the agent said is through the pipeline before its rows go.
        await _events.FlushAsync();
        _lifecycle.Destroy(sessionId);
        await _events.ForgetSessionAsync(sessionId);
    }

    /// <summary>Waits out a start of the session in progress, if any (its outcome is the starter's to report).</summary>
    private async Task StartedOrFailedAsync(string sessionId)
    {
        if (_starting.TryGetValue(sessionId, out var pending))
        {
            await ((Task)pending).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        }
    }

    public Task Sleep()
    {
        if (_runningPrompts > 0)
        {
            throw new AgentOsException(AgentOsErrorCode.SessionBusy,
                $"VM '{Id}' has {_runningPrompts} prompt(s) running or queued; it sleeps only when idle. Wait for them or cancel them first (CancelPrompt).");
        }

        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public Task DestroyVm()
    {
        if (_runningPrompts > 0 || _starting.Count > 0)
        {
            throw new AgentOsException(AgentOsErrorCode.SessionBusy,
                $"VM '{Id}' has {_runningPrompts} prompt(s) running or queued and {_starting.Count} session(s) starting; it is destroyed only when idle. Cancel them first (CancelPrompt).");
        }

        // Deactivation stops the agents and closes the database; then the folders go (OnDeactivateAsync).
        _destroying = true;
        Log.VmDestroying(logger, Id, _sessions.Count);
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    private void ThrowIfDestroying()
    {
        if (_destroying)
        {
            throw new AgentOsException(AgentOsErrorCode.UnknownSession, $"VM '{Id}' is being destroyed; call again in a moment for an empty VM of that id.");
        }
    }

    public async Task<IReadOnlyList<SessionEvent>> GetSequencedEvents(string sessionId, long since, int limit = 10_000)
    {
        if (limit <= 0)
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, $"limit must be positive (was {limit}).");
        }

        var live = _sessions.ContainsKey(sessionId ?? "");
        // A SessionEventBatch: the events cross the wire as one encoded block, decoded by the caller.
        var events = await Task.Run(() => string.IsNullOrEmpty(sessionId) ? (IReadOnlyList<SessionEvent>)[] : _store.ReadEvents(sessionId, Math.Max(0, since), limit, SessionEventBatch.MaxPageBytes));
        // Whether the session exists matters only when nothing came back: one query on the common path.
        if (events.Count == 0 && !live && (string.IsNullOrEmpty(sessionId) || await Task.Run(() => _store.GetSession(sessionId)) is null))
        {
            DeactivateIfUnused();
            throw UnknownSession(sessionId);
        }

        return events;
    }

    public async Task<IReadOnlyList<PersistedSession>> ListPersistedSessions()
    {
        var sessions = await Task.Run(_store.ListSessions);
        if (sessions.Count == 0)
        {
            DeactivateIfUnused();
        }

        return sessions;
    }

    public async Task<SessionUsage> GetUsage(string sessionId)
    {
        RequirePersisted(sessionId);
        return await Task.Run(() => _store.GetUsage(sessionId)) ?? throw UnknownSession(sessionId);
    }

    public async Task<VmInfo> GetVmInfo()
    {
        var agents = _sessions.Values.Where(s => !s.Exited.IsCompleted).Select(s => s.Usage()).ToList();
        var home = _paths.HostHome;
        var bytes = await Task.Run(() => HomeQuota.Measure(home));
        return new VmInfo { VmId = Id, HomeBytes = bytes, DiskQuotaBytes = _options.VmDiskQuota, Agents = agents };
    }

    public Task<IReadOnlyList<string>> ListSessions() =>
        Task.FromResult<IReadOnlyList<string>>(_sessions.Where(s => !s.Value.Exited.IsCompleted).Select(s => s.Key).ToList());

    /// <summary>The running session, or the suspended one restarted and restored. Concurrent callers share one restart.</summary>
    private async Task<AgentSession> LiveOrResumedAsync(string sessionId)
    {
        if (_sessions.TryGetValue(sessionId ?? "", out var live))
        {
            if (!live.Exited.IsCompleted)
            {
                return live;
            }

            await ForgetIfExitedAsync(live);
        }

        if (_starting.TryGetValue(sessionId ?? "", out var pending))
        {
            return await pending;
        }

        var record = (string.IsNullOrEmpty(sessionId) ? null : _store.GetSession(sessionId)) ?? throw UnknownSession(sessionId);
        ThrowIfDestroying();
        shutdown.ThrowIfShuttingDown("Resuming a session");
        disk.ThrowIfLow("Resuming a session");
        var type = await agentTypes.ResolveAsync(record.AgentType);
        var options = protector.Unprotect(sessionId!, record.OptionsJson);
        var plan = new ResumePlan(record.AcpSessionId, () => _store.ReadEvents(sessionId!, 0, int.MaxValue));
        _lifecycle.Resuming(sessionId!);
        return await StartAsync(sessionId!, type, options, record.Cwd, plan, record.ConfigJson);
    }

    private async Task<AgentSession> StartAsync(string sessionId, AgentType type, CreateSessionOptions options, string cwd, ResumePlan? resume, string? savedConfig)
    {
        var starting = StartAndReapplyConfigAsync(sessionId, type, options, cwd, resume, savedConfig);
        _starting[sessionId] = starting;
        try
        {
            var session = await starting;
            _lifecycle.Started(sessionId, session.AcpSessionId!, session.CurrentConfigJson());
            _sessions[sessionId] = session;
            _ = ForgetOnCrashAsync(session);
            return session;
        }
        catch (Exception ex)
        {
            Log.SessionStartFailed(logger, Id, sessionId, ex.Message);
            _lifecycle.StartFailed(sessionId);
            if (ex is AgentOsException)
            {
                throw;
            }

            // Only AgentOs' own exception types cross the wire; the cause is in the server log.
            throw new AgentOsException(AgentOsErrorCode.AgentStartFailed, $"Could not start agent '{type.Name}': {ex.Message}") { SessionId = sessionId };
        }
        finally
        {
            _starting.Remove(sessionId);
        }
    }

    /// <summary>Starts the agent; after a resume, sets the mode, model and thought level the session had before.</summary>
    private async Task<AgentSession> StartAndReapplyConfigAsync(string sessionId, AgentType type, CreateSessionOptions options, string cwd, ResumePlan? resume, string? savedConfig)
    {
        var session = await AgentSession.StartAsync(Context, sessionId, type, options, cwd, resume, CancellationToken.None);
        try
        {
            await session.ReapplyConfigAsync(savedConfig); // refusals are logged, not thrown
        }
        catch
        {
            await session.StopAsync();
            await session.DisposeAsync();
            throw;
        }

        return session;
    }

    private AgentSession LiveSession(string sessionId)
    {
        if (_sessions.TryGetValue(sessionId ?? "", out var session))
        {
            return session;
        }

        var persisted = string.IsNullOrEmpty(sessionId) ? null : _store.GetSession(sessionId);
        throw persisted is null
            ? UnknownSession(sessionId)
            : new AgentOsException(AgentOsErrorCode.UnknownSession,
                $"Session '{sessionId}' in VM '{Id}' is {persisted.Status.ToString().ToLowerInvariant()}: its agent is not running. ResumeSession restarts it.") { SessionId = sessionId };
    }

    private void RequirePersisted(string sessionId)
    {
        if (!_sessions.ContainsKey(sessionId ?? "") && (string.IsNullOrEmpty(sessionId) || _store.GetSession(sessionId) is null))
        {
            throw UnknownSession(sessionId);
        }
    }

    private AgentOsException UnknownSession(string? sessionId) =>
        new(AgentOsErrorCode.UnknownSession, $"VM '{Id}' has no session '{sessionId}'. ListPersistedSessions() lists the ones it has.") { SessionId = sessionId };

    /// <summary>
    /// An agent that exits unasked (a crash, a kill because its events could not be stored) makes its session
    /// <see cref="SessionStatus.Crashed"/> at once, not at the next call that touches it. Runs on the grain's scheduler;
    /// an exit AgentOs asked for is the stopping path's to record.
    /// </summary>
    private async Task ForgetOnCrashAsync(AgentSession session)
    {
        var exit = await session.Exited;
        if (!exit.Expected && !_deactivating)
        {
            await ForgetIfExitedAsync(session);
        }
    }

    private async Task ForgetIfExitedAsync(AgentSession session)
    {
        // Only the session registered now: a resumed session's new agent must not be forgotten for its old one.
        if (!session.Exited.IsCompleted || !_sessions.TryGetValue(session.SessionId, out var current) || current != session)
        {
            return;
        }

        _sessions.Remove(session.SessionId);

        var exit = await session.Exited;
        _lifecycle.Stopped(session.SessionId, StopCause.Exited, crashed: !exit.Expected, session.CurrentConfigJson());
        await session.DisposeAsync();
    }

    /// <summary>Stops a live session's agent because of <paramref name="cause"/>; the lifecycle records what the session becomes.</summary>
    private async Task StopSessionAsync(AgentSession session, StopCause cause)
    {
        var crashed = await StopAgentAsync(session, cause == StopCause.Close ? SessionEnd.Close : SessionEnd.None);
        // Its configuration as it last was: the agent may have changed its mode or options on its own since the last SetX.
        _lifecycle.Stopped(session.SessionId, cause, crashed, session.CurrentConfigJson());
        await session.DisposeAsync();
    }

    /// <summary>Stops the agent; true when it had exited unexpectedly before it was asked to.</summary>
    private static async Task<bool> StopAgentAsync(AgentSession session, SessionEnd ending)
    {
        var crashedBefore = session.Exited.IsCompleted && !(await session.Exited).Expected;
        await session.StopAsync(ending);
        return crashedBefore;
    }
}
