using System.Diagnostics;
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
internal sealed record SessionContext(string VmId, VmPaths Paths, EventPipeline Events, AgentOsOptions Options, AgentSandbox Sandbox, ILogger Logger);

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

    private AgentSession(SessionContext context, string sessionId, AgentType agentType)
    {
        _context = context;
        SessionId = sessionId;
        AgentType = agentType;
    }

    public string SessionId { get; }

    public AgentType AgentType { get; }

    public string? AcpSessionId { get; private set; }

    public int Pid => _process.Pid;

    /// <summary>Completes when the agent process has exited and its exit is recorded.</summary>
    public Task<AgentExit> Exited => _exited.Task;

    private EventPipeline Events => _context.Events;

    private AgentOsOptions Options => _context.Options;

    /// <summary>
    /// Spawns the agent, records its start, runs <c>initialize</c>, then <c>session/new</c> — or, with a
    /// <paramref name="resume"/> plan, restores the conversation: <c>session/load</c> when the agent
    /// advertises it, else <c>session/resume</c>, else a new session whose first prompt carries context
    /// drawn from the transcript.
    /// </summary>
    public static async Task<AgentSession> StartAsync(SessionContext context, string sessionId, AgentType agentType, CreateSessionOptions options, string vmCwd, ResumePlan? resume, CancellationToken cancellationToken)
    {
        var session = new AgentSession(context, sessionId, agentType);
        session.CreatePermissionBroker(options);
        try
        {
            await session.StartCoreAsync(options, vmCwd, resume, cancellationToken);
        }
        catch
        {
            await session.StopAsync();
            await session.DisposeAsync();
            throw;
        }

        return session;
    }

    private async Task StartCoreAsync(CreateSessionOptions options, string vmCwd, ResumePlan? resume, CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        var plan = AgentLaunchPlanner.Plan(_context.Sandbox, _context.Paths, SessionId, AgentType, options, vmCwd, Options.SandboxNetwork);
        _sessionMeta = plan.SessionMeta;
        _agentCwd = plan.AgentCwd;
        _process = await AgentProcess.StartAsync(plan.Launch, OnStderrLine, cancellationToken);
        Events.Append(SessionId, AgentOsEventMethods.AgentStart, Json(w =>
        {
            w.WriteString("agentType", AgentType.Name);
            w.WriteNumber("pid", _process.Pid);
            w.WriteString("command", AgentType.Command);
            w.WriteString("sandbox", _context.Sandbox.Name);
            w.WriteString("cwd", plan.AgentCwd);
            w.WriteNumber("instructionsChars", plan.Instructions?.Length ?? 0);
        }));

        _connection = new AcpConnection(_process.StandardOutput, _process.StandardInput, this,
            new AcpConnectionOptions { DefaultRequestTimeout = Options.RequestTimeout, Name = $"{_context.VmId}/{SessionId}" }, _context.Logger);
        _connection.Start();
        // CliWrap completes the process only once its stdout pipe is released: release it when the read loop ends.
        _ = _connection.Completion.ContinueWith(_ => _process.ReleaseStandardOutput(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _ = MonitorExitAsync();

        var init = await CallAgentAsync(AcpMethods.Initialize, () => _connection.SendRequestAsync(
            AcpMethods.Initialize,
            new InitializeRequest
            {
                ProtocolVersion = AcpMethods.ProtocolVersion,
                ClientCapabilities = new ClientCapabilities { Fs = new FileSystemCapability { ReadTextFile = true, WriteTextFile = true } },
                ClientInfo = new Implementation { Name = "agentos", Title = "AgentOs", Version = typeof(AgentSession).Assembly.GetName().Version?.ToString(3) },
            },
            AcpJsonContext.Default.InitializeRequest, AcpJsonContext.Default.InitializeResponse, Options.InitializeTimeout, cancellationToken));

        var capabilities = init.AgentCapabilities;
        var mcpServers = McpServerMapping.ToWire(options.McpServers, capabilities);
        var (setup, path) = resume is null
            ? (await NewSessionAsync(vmCwd, mcpServers, cancellationToken), "new")
            : await RestoreAsync(resume, capabilities, vmCwd, mcpServers, cancellationToken);

        AcpSessionId = setup.SessionId ?? (path is "load" or "resume" ? resume!.AcpSessionId : null) ?? throw new AgentOsException(AgentOsErrorCode.AgentProtocolError,
            $"The agent '{AgentType.Name}' answered session/new without a sessionId.") { SessionId = SessionId };
        SetInfo(SessionInfoMapping.Create(SessionId, AgentType.Name, AcpSessionId, _process.Pid, init, setup));
        Events.Append(SessionId, resume is null ? AgentOsEventMethods.SessionStart : AgentOsEventMethods.Resume, Json(w =>
        {
            w.WriteString("acpSessionId", AcpSessionId);
            w.WriteString("restore", path);
            if (resume is not null)
            {
                w.WriteNumber("replayedNotifications", _replayedNotifications);
                w.WriteNumber("contextChars", _pendingContext?.Length ?? 0);
            }

            w.WritePropertyName("agentInfo");
            JsonSerializer.Serialize(w, init.AgentInfo, AcpJsonContext.Default.Implementation);
        }));
        Log.SessionStarted(_context.Logger, _context.VmId, SessionId, AgentType.Name, _process.Pid, started.ElapsedMilliseconds);
    }

    private Task<SessionSetupResponse> NewSessionAsync(string vmCwd, IReadOnlyList<McpServerWire> mcpServers, CancellationToken cancellationToken) =>
        CallAgentAsync(AcpMethods.SessionNew, () => _connection.SendRequestAsync(
            AcpMethods.SessionNew,
            new NewSessionRequest { Cwd = _agentCwd, McpServers = mcpServers, Meta = _sessionMeta },
            AcpJsonContext.Default.NewSessionRequest, AcpJsonContext.Default.SessionSetupResponse, Options.NewSessionTimeout, cancellationToken));

    private async Task<(SessionSetupResponse Setup, string Path)> RestoreAsync(ResumePlan resume, AgentCapabilitiesWire? capabilities, string vmCwd, IReadOnlyList<McpServerWire> mcpServers, CancellationToken cancellationToken)
    {
        var canResume = capabilities is not null && capabilities.SessionCapabilities.ValueKind == JsonValueKind.Object && capabilities.SessionCapabilities.TryGetProperty("resume", out _);
        if (resume.AcpSessionId is { } acpSessionId && capabilities?.LoadSession == true)
        {
            // The agent replays the conversation as notifications before it answers; the transcript
            // has them already, so they are counted, not stored twice. The reply ends the window.
            _restoring = true;
            try
            {
                var loaded = await CallAgentAsync(AcpMethods.SessionLoad, () => _connection.SendRequestAsync(
                    AcpMethods.SessionLoad,
                    new LoadSessionRequest { SessionId = acpSessionId, Cwd = _agentCwd, McpServers = mcpServers, Meta = _sessionMeta },
                    AcpJsonContext.Default.LoadSessionRequest, AcpJsonContext.Default.SessionSetupResponse, Options.NewSessionTimeout, cancellationToken,
                    onResponse: () => _restoring = false));
                return (loaded, "load");
            }
            finally
            {
                _restoring = false;
            }
        }

        if (resume.AcpSessionId is { } resumeId && canResume)
        {
            var resumed = await CallAgentAsync(AcpMethods.SessionResume, () => _connection.SendRequestAsync(
                AcpMethods.SessionResume,
                new ResumeSessionRequest { SessionId = resumeId, Cwd = _agentCwd, McpServers = mcpServers, Meta = _sessionMeta },
                AcpJsonContext.Default.ResumeSessionRequest, AcpJsonContext.Default.SessionSetupResponse, Options.NewSessionTimeout, cancellationToken));
            return (resumed, "resume");
        }

        var fresh = await NewSessionAsync(vmCwd, mcpServers, cancellationToken);
        _pendingContext = TranscriptContext.Build(resume.ReadTranscript());
        return (fresh, "context");
    }

    /// <summary>
    /// Runs one <c>session/prompt</c> turn. The caller runs one turn at a time per session (the VM's
    /// <see cref="TurnQueue"/>). After <see cref="CancelAsync"/>, an agent that has not answered within
    /// <see cref="AgentOsOptions.CancelGracePeriod"/> has its turn ended for it: the result is
    /// <c>cancelled</c>, the turn end is recorded with <c>forced</c>, and the agent's late answer is only
    /// awaited through <see cref="TurnOutcome.Abandoned"/>, never recorded as a second turn end.
    /// </summary>
    public async Task<TurnOutcome> PromptAsync(string text)
    {
        ThrowIfExited();
        // After a fallback restore, the first prompt carries the earlier conversation.
        var context = Interlocked.Exchange(ref _pendingContext, null);
        var prompt = new PromptRequest
        {
            SessionId = AcpSessionId!,
            Prompt = context is null ? [new TextContentBlock { Text = text }] : [new TextContentBlock { Text = text }, new TextContentBlock { Text = context }],
        };
        Events.Append(SessionId, AgentOsEventMethods.Prompt, JsonSerializer.Serialize(prompt, AcpJsonContext.Default.PromptRequest));
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
            var call = CallAgentAsync(AcpMethods.SessionPrompt, () => _connection.SendRequestAsync(
                AcpMethods.SessionPrompt, prompt, AcpJsonContext.Default.PromptRequest, AcpJsonContext.Default.PromptResponse, Options.PromptTimeout));
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
                await Events.AppendAndWaitAsync(SessionId, AgentOsEventMethods.TurnEnd, Json(w =>
                {
                    w.WriteString("stopReason", "error");
                    w.WriteString("error", ex.Message);
                    w.WriteString("code", ex.Code.ToString());
                }));
                throw;
            }

            var stopReason = string.IsNullOrEmpty(response.StopReason) ? "end_turn" : response.StopReason;
            var reply = TakeTurnText();
            var lastSeq = await Events.AppendAndWaitAsync(SessionId, AgentOsEventMethods.TurnEnd, Json(w => w.WriteString("stopReason", stopReason)));
            return new TurnOutcome(new PromptResult { StopReason = stopReason, Text = reply, LastSeq = lastSeq }, Abandoned: null);
        }
        finally
        {
            await turnOver.CancelAsync();
            Interlocked.CompareExchange(ref _turnCancelled, null, cancelled);
            TakeTurnText();
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
        var lastSeq = await Events.AppendAndWaitAsync(SessionId, AgentOsEventMethods.TurnEnd, Json(w =>
        {
            w.WriteString("stopReason", "cancelled");
            w.WriteBoolean("forced", true);
            w.WriteNumber("graceMs", (long)Options.CancelGracePeriod.TotalMilliseconds);
        }));
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
    /// Sends ACP <c>session/cancel</c> for the running turn, answers its waiting permission requests with
    /// <c>cancelled</c> (as ACP asks of the client), and starts the turn's cancel grace period.
    /// </summary>
    public async Task CancelAsync()
    {
        ThrowIfExited();
        await CallAgentAsync(AcpMethods.SessionCancel, async () =>
        {
            await _connection.SendNotificationAsync(AcpMethods.SessionCancel, new SessionIdParams { SessionId = AcpSessionId! }, AcpJsonContext.Default.SessionIdParams);
            return true;
        });
        _permissions.CancelAll(PermissionReasons.TurnCancelled, final: false);
        Volatile.Read(ref _turnCancelled)?.TrySetResult();
    }

    /// <summary>
    /// Records that AgentOs restarts this agent (<c>_agentos/agent_restart</c>) and stops it. The caller then
    /// restores the session on a new agent.
    /// </summary>
    public async Task StopForRestartAsync(string reason)
    {
        await Events.AppendAndWaitAsync(SessionId, AgentOsEventMethods.AgentRestart, Json(w =>
        {
            w.WriteString("reason", reason);
            w.WriteNumber("pid", _process.Pid);
        }));
        Log.AgentRestarting(_context.Logger, _context.VmId, SessionId, _process.Pid, reason);
        await StopAsync();
    }

    private void ThrowIfExited()
    {
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

    private async Task MonitorExitAsync()
    {
        var exitCode = await _process.Exited.ConfigureAwait(false);
        // Drain whatever the agent wrote before exiting, so its last events precede the exit event.
        await _connection.Completion.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await CancelPermissionsAsync(_stopping ? PermissionReasons.SessionStopped : PermissionReasons.AgentExited, final: true).ConfigureAwait(false);
        var exit = new AgentExit(exitCode, _process.StderrTail, _stopping);
        try
        {
            await Events.AppendAndWaitAsync(SessionId, AgentOsEventMethods.AgentExit, Json(w =>
            {
                w.WriteNumber("exitCode", exitCode);
                if (exitCode > 128)
                {
                    w.WriteNumber("signal", exitCode - 128);
                }

                w.WriteString("stderrTail", exit.StderrTail);
                w.WriteBoolean("expected", exit.Expected);
            })).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The pipeline is gone (VM shutting down); the exit is still reported to callers.
        }

        Log.AgentExited(_context.Logger, _context.VmId, SessionId, exitCode, exit.Expected);
        _exited.TrySetResult(exit);
    }

    /// <summary>Stops the agent gracefully (stdin closed, then SIGINT, then kill) and waits for its exit to be recorded.</summary>
    public async Task<AgentExit> StopAsync()
    {
        _stopping = true;
        if (_process is null || _connection is null)
        {
            return new AgentExit(null, "", Expected: true); // never started
        }

        if (!_exited.Task.IsCompleted)
        {
            // The agent gets its answers before its stdin closes.
            await CancelPermissionsAsync(PermissionReasons.SessionStopped, final: true);
            await _connection.CloseOutputAsync();
            var (_, killed) = await _process.StopAsync(Options.AgentStopGracePeriod);
            if (killed)
            {
                Log.AgentKilled(_context.Logger, _context.VmId, SessionId, _process.Pid);
            }
        }

        return await WaitForExitAsync(TimeSpan.FromSeconds(10));
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }

        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
    }

    // ---- the client side of ACP, called on the connection's read loop ----

    /// <inheritdoc />
    public ValueTask OnNotificationAsync(AcpIncomingMessage notification)
    {
        if (_restoring)
        {
            Interlocked.Increment(ref _replayedNotifications);
            return ValueTask.CompletedTask;
        }

        // The params are stored as the agent's own UTF-8 bytes (copied: the read buffer is reused);
        // only the update kind, and a chunk's text during a turn, are read out of them.
        var paramsUtf8 = notification.ParamsUtf8;
        if (notification.Method == AcpMethods.SessionUpdate)
        {
            var update = SessionUpdateScan.Read(paramsUtf8.Span, wantText: Volatile.Read(ref _turnText) is not null);
            if (update.Kind == SessionUpdateKind.AgentMessageChunk && update.Text is { } text)
            {
                lock (_textLock)
                {
                    _turnText?.Append(text);
                }
            }
            else if (update.Kind == SessionUpdateKind.Config)
            {
                TrackConfigUpdate(notification.Params);
            }
        }

        return Events.AppendWithBackPressureAsync(SessionId, notification.Method, paramsUtf8.IsEmpty ? "{}"u8.ToArray() : paramsUtf8.ToArray());
    }

    /// <inheritdoc />
    public void OnMalformedLine(string preview, string reason)
    {
        var count = Interlocked.Increment(ref _malformedLines);
        Log.MalformedLine(_context.Logger, _context.VmId, SessionId, reason);
        if (count <= MaxRecordedMalformedLines)
        {
            Events.Append(SessionId, AgentOsEventMethods.MalformedOutput, Json(w =>
            {
                w.WriteString("reason", reason);
                w.WriteString("preview", preview);
                w.WriteNumber("count", count);
            }));
        }
    }

    private void OnStderrLine(AgentProcess process, string line)
    {
        var sink = Options.OnAgentStderr;
        if (sink is null)
        {
            Console.Error.WriteLine($"[agent {_context.VmId}/{SessionId} {AgentType.Name} pid {process.Pid}] {line}");
            return;
        }

        try
        {
            sink(new AgentStderrChunk(_context.VmId, SessionId, AgentType.Name, SessionId, process.Pid, line));
        }
        catch (Exception ex)
        {
            Log.StderrCallbackFailed(_context.Logger, _context.VmId, ex);
        }
    }

    /// <summary>One JSON object written by <paramref name="body"/>: the params of AgentOs' own events.</summary>
    internal static string Json(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length);
    }
}

/// <summary>How an agent process ended.</summary>
internal sealed record AgentExit(int? ExitCode, string StderrTail, bool Expected);
