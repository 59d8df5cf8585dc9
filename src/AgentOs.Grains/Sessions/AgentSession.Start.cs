using System.Diagnostics;
using System.Text.Json;
using AgentOs.Acp;
using AgentOs.Agents;
using AgentOs.Sandbox;

namespace AgentOs.Sessions;

/// <summary>Starting the agent: spawn, <c>initialize</c>, then <c>session/new</c> or the restore of a suspended session.</summary>
internal sealed partial class AgentSession
{
    /// <summary>
    /// Spawns the agent, records its start, runs <c>initialize</c>, then <c>session/new</c> — or, with a
    /// <paramref name="resume"/> plan, restores the conversation: <c>session/load</c> when the agent
    /// advertises it, else <c>session/resume</c>, else a new session whose first prompt carries context
    /// drawn from the transcript.
    /// </summary>
    public static async Task<AgentSession> StartAsync(SessionContext context, string sessionId, AgentType agentType, CreateSessionOptions options, string vmCwd, ResumePlan? resume, CancellationToken cancellationToken)
    {
        var session = new AgentSession(context, sessionId, agentType);
        session.CreateAnswerBroker(options);
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
        var plan = await AgentLaunchPlanner.PlanAsync(_context.Sandbox, _context.Paths, SessionId, AgentType, options, vmCwd, Options.SandboxNetwork, cancellationToken);
        _sessionMeta = plan.SessionMeta;
        _agentCwd = plan.AgentCwd;
        _quota = _context.Quotas.Take(_context.VmId); // given back once the agent has exited
        // Its own cgroup: its limits, and every process it starts is killed with it.
        var limits = EnforcedLimits.Resolve(options.Limits, AgentType.Limits, Options);
        (_options, _limits, _vmCwd) = (options, limits, vmCwd); // its terminals run with them too
        _cgroup = _context.Cgroups.Create(SessionId, limits);
        _process = await AgentProcess.StartAsync(AgentCgroups.Wrap(plan.Launch, _cgroup, limits, _context.HomeQuota.Quota), OnStderrLine, cancellationToken);
        _diskWatch = _context.HomeQuota.Watch(OnOverDiskQuota);
        _recorder.AgentStart(AgentType.Name, _process.Pid, AgentType.Command, _context.Sandbox.Name, plan.AgentCwd, plan.Instructions?.Length ?? 0);

        _connection = new AcpConnection(_process.StandardOutput, _process.StandardInput, this,
            new AcpConnectionOptions { DefaultRequestTimeout = Options.RequestTimeout, Name = $"{_context.VmId}/{SessionId}" }, _context.Logger);
        _connection.Start();
        // CliWrap completes the process only once its stdout pipe is released: release it when the read loop ends.
        _ = _connection.Completion.ContinueWith(_ => _process.ReleaseStandardOutput(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _ = MonitorExitAsync();

        var init = await CallAgentAsync(AcpMethods.Initialize, () => _connection.InitializeAsync(
            new InitializeRequest
            {
                ProtocolVersion = AcpMethods.ProtocolVersion,
                ClientCapabilities = new ClientCapabilities
                {
                    Fs = new FileSystemCapability { ReadTextFile = true, WriteTextFile = true },
                    Terminal = true,
                    // Only where a client answers (Ask): under AllowAll and RejectAll nobody would, so the agent is not invited to ask.
                    Elicitation = OffersElicitation ? new ElicitationCapabilities { Form = new EmptyObject(), Url = new EmptyObject() } : null,
                },
                ClientInfo = new Implementation { Name = "agentos", Title = "AgentOs", Version = typeof(AgentSession).Assembly.GetName().Version?.ToString(3) },
            },
            Options.InitializeTimeout, cancellationToken));

        var capabilities = init.AgentCapabilities;
        _canClose = capabilities?.CanClose == true;
        _canDelete = capabilities?.CanDelete == true;
        var mcpServers = McpServerMapping.ToWire(options.McpServers, capabilities);
        var (setup, path) = resume is null
            ? (await NewSessionAsync(vmCwd, mcpServers, cancellationToken), "new")
            : await RestoreAsync(resume, capabilities, vmCwd, mcpServers, cancellationToken);

        AcpSessionId = setup.SessionId ?? (path is "load" or "resume" ? resume!.AcpSessionId : null) ?? throw new AgentOsException(AgentOsErrorCode.AgentProtocolError,
            $"The agent '{AgentType.Name}' answered session/new without a sessionId.") { SessionId = SessionId };
        SetInfo(SessionInfoMapping.Create(SessionId, AgentType.Name, AcpSessionId, _process.Pid, init, setup));
        if (resume is null)
        {
            _recorder.SessionStart(AcpSessionId, path, init.AgentInfo);
        }
        else
        {
            _recorder.Resume(AcpSessionId, path, _replayedNotifications, _pendingContext?.Length ?? 0, init.AgentInfo);
        }
        Log.SessionStarted(_context.Logger, _context.VmId, SessionId, AgentType.Name, _process.Pid, started.ElapsedMilliseconds);
    }

    private Task<SessionSetupResponse> NewSessionAsync(string vmCwd, IReadOnlyList<McpServerWire> mcpServers, CancellationToken cancellationToken) =>
        CallAgentAsync(AcpMethods.SessionNew, () => _connection.NewSessionAsync(
            new NewSessionRequest { Cwd = _agentCwd, McpServers = mcpServers, Meta = _sessionMeta }, Options.NewSessionTimeout, cancellationToken));

    private async Task<(SessionSetupResponse Setup, string Path)> RestoreAsync(ResumePlan resume, AgentCapabilitiesWire? capabilities, string vmCwd, IReadOnlyList<McpServerWire> mcpServers, CancellationToken cancellationToken)
    {
        var canResume = capabilities?.CanResume == true;
        if (resume.AcpSessionId is { } acpSessionId && capabilities?.LoadSession == true)
        {
            // The agent replays the conversation as notifications before it answers; the transcript
            // has them already, so they are counted, not stored twice. The reply ends the window.
            _restoring = true;
            try
            {
                var loaded = await CallAgentAsync(AcpMethods.SessionLoad, () => _connection.LoadSessionAsync(
                    new LoadSessionRequest { SessionId = acpSessionId, Cwd = _agentCwd, McpServers = mcpServers, Meta = _sessionMeta },
                    Options.NewSessionTimeout, cancellationToken, onResponse: () => _restoring = false));
                return (loaded, "load");
            }
            finally
            {
                _restoring = false;
            }
        }

        if (resume.AcpSessionId is { } resumeId && canResume)
        {
            var resumed = await CallAgentAsync(AcpMethods.SessionResume, () => _connection.ResumeSessionAsync(
                new ResumeSessionRequest { SessionId = resumeId, Cwd = _agentCwd, McpServers = mcpServers, Meta = _sessionMeta },
                Options.NewSessionTimeout, cancellationToken));
            return (resumed, "resume");
        }

        var fresh = await NewSessionAsync(vmCwd, mcpServers, cancellationToken);
        _pendingContext = TranscriptContext.Build(resume.ReadTranscript());
        return (fresh, "context");
    }
}
