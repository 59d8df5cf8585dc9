using AgentOs.Agents;
using AgentOs.Events;
using AgentOs.Hosting;
using AgentOs.Sessions;
using AgentOs.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Streams;

namespace AgentOs;

/// <summary>
/// One VM. Reentrant: a prompt turn awaits its agent for minutes while other calls (more sessions,
/// history reads, cancel) run. Orleans still runs one piece of this grain at a time, so the
/// session table needs no lock; agents' output never enters the grain, it goes from each
/// session's read loop straight into the <see cref="EventPipeline"/>.
/// </summary>
[Reentrant]
internal sealed class VmGrain(IOptions<AgentOsOptions> options, AgentTypeRegistry agentTypes, ILogger<VmGrain> logger) : Grain, IVmGrain
{
    private readonly Dictionary<string, AgentSession> _sessions = new(StringComparer.Ordinal);
    private readonly AgentOsOptions _options = options.Value;
    private VmPaths _paths = null!;
    private VmStore _store = null!;
    private EventPipeline _events = null!;

    private string Id => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _paths = new VmPaths(_options.DataDirectory, Id);
        Directory.CreateDirectory(_paths.HostHome);
        _store = new VmStore(_paths.Database);
        var recovered = _store.SuspendActiveSessions();
        var stream = this.GetStreamProvider(AgentOsNames.StreamProvider)
            .GetStream<SessionEventBatch>(StreamId.Create(AgentOsNames.SessionEventStream, Id));
        _events = new EventPipeline(Id, _store, new StreamPublisher(stream), logger);
        Log.VmActivated(logger, Id, _store.ListSessions().Count, recovered);
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        Log.VmDeactivating(logger, Id, reason.Description, _sessions.Count);
        await Task.WhenAll(_sessions.Values.Select(StopSessionAsync));
        _sessions.Clear();
        await _events.DisposeAsync();
        _store.Dispose();
    }

    public async Task<SessionInfo> CreateSession(string agentType, CreateSessionOptions? options = null)
    {
        options ??= new CreateSessionOptions();
        var type = agentTypes.Resolve(agentType);
        var cwd = options.Cwd ?? VmPaths.Home;
        _paths.ToHost(cwd); // validates before anything is created
        McpServerMapping.Validate(options.McpServers);

        var sessionId = Guid.CreateVersion7().ToString("N");
        _store.InsertSession(new SessionRecord(sessionId, type.Name, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), SessionStatus.Active, cwd, null, "{}"));
        AgentSession? session = null;
        try
        {
            var context = new SessionContext(Id, _paths, _events, _options, logger);
            session = await AgentSession.StartAsync(context, sessionId, type, options, cwd, CancellationToken.None);
            _store.UpdateSession(sessionId, SessionStatus.Active, session.AcpSessionId);
            _sessions[sessionId] = session;
            return session.Info;
        }
        catch (Exception ex)
        {
            Log.SessionStartFailed(logger, Id, sessionId, ex.Message);
            if (session is not null)
            {
                await session.StopAsync();
                await session.DisposeAsync();
            }

            _store.UpdateSession(sessionId, SessionStatus.Crashed);
            if (ex is AgentOsException)
            {
                throw;
            }

            // Only AgentOs' own exception types cross the wire; the cause is in the server log.
            throw new AgentOsException(AgentOsErrorCode.AgentStartFailed, $"Could not start agent '{type.Name}': {ex.Message}") { SessionId = sessionId };
        }
    }

    public async Task<PromptResult> SendPrompt(string sessionId, string prompt)
    {
        if (string.IsNullOrWhiteSpace(prompt))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "The prompt is empty.") { SessionId = sessionId };
        }

        if (prompt.Length > _options.MaxPromptLength)
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument,
                $"The prompt has {prompt.Length} characters; the limit is {_options.MaxPromptLength} (AgentOs:MaxPromptLength).") { SessionId = sessionId };
        }

        var session = LiveSession(sessionId);
        try
        {
            return await session.PromptAsync(prompt, CancellationToken.None);
        }
        finally
        {
            await ForgetIfExitedAsync(session);
        }
    }

    public Task CancelPrompt(string sessionId) => LiveSession(sessionId).CancelAsync();

    public Task<IReadOnlyList<SessionEvent>> GetEvents(string sessionId) => GetSequencedEvents(sessionId, 0, int.MaxValue);

    public async Task<IReadOnlyList<SessionEvent>> GetSequencedEvents(string sessionId, long since, int limit = 10_000)
    {
        if (limit <= 0)
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, $"limit must be positive (was {limit}).");
        }

        RequirePersisted(sessionId);
        return await Task.Run(() => _store.ReadEvents(sessionId, Math.Max(0, since), limit));
    }

    public async Task<IReadOnlyList<PersistedSession>> ListPersistedSessions() => await Task.Run(_store.ListSessions);

    public Task<IReadOnlyList<string>> ListSessions() =>
        Task.FromResult<IReadOnlyList<string>>(_sessions.Where(s => !s.Value.Exited.IsCompleted).Select(s => s.Key).ToList());

    private AgentSession LiveSession(string sessionId)
    {
        if (_sessions.TryGetValue(sessionId ?? "", out var session))
        {
            return session;
        }

        var persisted = string.IsNullOrEmpty(sessionId) ? null : _store.GetSession(sessionId);
        throw persisted is null
            ? new AgentOsException(AgentOsErrorCode.UnknownSession, $"VM '{Id}' has no session '{sessionId}'. ListPersistedSessions() lists the ones it has.") { SessionId = sessionId }
            : new AgentOsException(AgentOsErrorCode.UnknownSession, $"Session '{sessionId}' in VM '{Id}' is {persisted.Status.ToString().ToLowerInvariant()}: its agent is not running.") { SessionId = sessionId };
    }

    private void RequirePersisted(string sessionId)
    {
        if (!_sessions.ContainsKey(sessionId ?? "") && (string.IsNullOrEmpty(sessionId) || _store.GetSession(sessionId) is null))
        {
            throw new AgentOsException(AgentOsErrorCode.UnknownSession, $"VM '{Id}' has no session '{sessionId}'.") { SessionId = sessionId };
        }
    }

    private async Task ForgetIfExitedAsync(AgentSession session)
    {
        if (!session.Exited.IsCompleted || !_sessions.Remove(session.SessionId))
        {
            return;
        }

        var exit = await session.Exited;
        _store.UpdateSession(session.SessionId, exit.Expected ? SessionStatus.Closed : SessionStatus.Crashed);
        await session.DisposeAsync();
    }

    private async Task StopSessionAsync(AgentSession session)
    {
        await session.StopAsync();
        _store.UpdateSession(session.SessionId, SessionStatus.Suspended);
        await session.DisposeAsync();
    }

    private sealed class StreamPublisher(IAsyncStream<SessionEventBatch> stream) : IEventPublisher
    {
        public Task PublishAsync(SessionEvent[] batch) => stream.OnNextAsync(new SessionEventBatch(batch));
    }
}
