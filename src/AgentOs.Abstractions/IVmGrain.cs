namespace AgentOs;

/// <summary>
/// One VM: its filesystem, its SQLite database, and the ACP agent sessions running in it.
/// The grain key is the VM id (see <see cref="VmId"/>).
/// </summary>
[Alias("AgentOs.IVmGrain")]
public interface IVmGrain : IGrainWithStringKey
{
    /// <summary>Starts an agent of <paramref name="agentType"/> and opens an ACP session with it.</summary>
    [Alias("CreateSession"), ResponseTimeout("00:05:00")]
    Task<SessionInfo> CreateSession(string agentType, CreateSessionOptions? options = null);

    /// <summary>
    /// Runs one prompt turn and returns its stop reason and text. Events stream while it runs.
    /// Turns may last many minutes; other calls to the VM are served meanwhile. A prompt sent while
    /// the session runs another turn is queued (first in, first out; recorded as
    /// <c>_agentos/prompt_queued</c>) and this call returns its own turn's result once it has run.
    /// Past <c>AgentOs:MaxQueuedPrompts</c> (16) waiting prompts it fails with <see cref="AgentOsErrorCode.SessionBusy"/>.
    /// </summary>
    [Alias("SendPrompt"), ResponseTimeout("02:00:00")]
    Task<PromptResult> SendPrompt(string sessionId, string prompt);

    /// <summary>
    /// <see cref="SendPrompt"/> with content blocks: text, images, audio, embedded resources and resource links. Each kind
    /// the agent does not advertise in <c>promptCapabilities</c> is refused with <see cref="AgentOsErrorCode.InvalidArgument"/>
    /// naming the capability, before anything is sent; every block's characters count toward <c>AgentOs:MaxPromptLength</c>
    /// (past it: <see cref="AgentOsErrorCode.PayloadTooLarge"/>).
    /// </summary>
    [Alias("SendPromptContent"), ResponseTimeout("02:00:00")]
    Task<PromptResult> SendPromptContent(string sessionId, IReadOnlyList<PromptContent> prompt);

    /// <summary>
    /// Asks the agent to cancel the running turn (ACP <c>session/cancel</c>); its <see cref="SendPrompt"/>
    /// returns with stop reason <c>cancelled</c>. Permission requests waiting for an answer get the outcome
    /// <c>cancelled</c>. An agent that has not ended the turn within <c>AgentOs:CancelGracePeriod</c> (5 s)
    /// has it ended for it (<c>_agentos/turn_end</c> with <c>forced: true</c>); one that still has not ended
    /// it a further grace period later is restarted and its conversation restored (<c>_agentos/agent_restart</c>),
    /// so the session's next prompt works. Only the turn running at that moment is cancelled: prompts queued
    /// behind it are not dropped, they then run in order.
    /// </summary>
    [Alias("CancelPrompt")]
    Task CancelPrompt(string sessionId);

    /// <summary>
    /// Answers a permission request of a session created with <see cref="PermissionPolicy.Ask"/>: the agent
    /// gets <paramref name="optionId"/> as its selected option, and the answer is recorded
    /// (<c>_agentos/client_response</c> with <c>reason</c> <c>client</c>). Runs while the prompt that
    /// waits for it runs.
    /// </summary>
    /// <param name="sessionId">The session.</param>
    /// <param name="requestId">The seq of the request's <c>session/request_permission</c> event (see <see cref="GetPendingPermissions"/>).</param>
    /// <param name="optionId">One of the request's options' <c>optionId</c>.</param>
    /// <exception cref="AgentOsException">
    /// <see cref="AgentOsErrorCode.UnknownSession"/> for a session the VM does not have;
    /// <see cref="AgentOsErrorCode.PermissionNotPending"/> when no such request waits (answered already, timed
    /// out, cancelled with its turn, its agent stopped, or not a permission request);
    /// <see cref="AgentOsErrorCode.InvalidArgument"/> for an option the agent did not offer (the message lists
    /// those it did; the request keeps waiting).
    /// </exception>
    [Alias("RespondPermission")]
    Task RespondPermission(string sessionId, long requestId, string optionId);

    /// <summary>
    /// The session's permission requests waiting for <see cref="RespondPermission"/>, oldest first: for a
    /// client that connects while one waits. Empty for a session whose agent is not running.
    /// </summary>
    [Alias("GetPendingPermissions")]
    Task<IReadOnlyList<PendingPermission>> GetPendingPermissions(string sessionId);

    /// <summary>
    /// Answers an elicitation (ACP <c>elicitation/create</c>) of a session created with <see cref="PermissionPolicy.Ask"/>, the only
    /// sessions whose agents are offered elicitation (the others decline at once). The agent gets the action and, for an accepted
    /// form, the fields; the answer is recorded (<c>_agentos/client_response</c> with <c>reason</c> <c>client</c>). A request nobody
    /// answers is cancelled after the session's permission timeout. Runs while the prompt that waits for it runs.
    /// </summary>
    /// <param name="sessionId">The session.</param>
    /// <param name="requestId">The seq of the request's <c>elicitation/create</c> event (see <see cref="GetPendingElicitations"/>).</param>
    /// <param name="answer">Accept (with a form's fields), decline or cancel.</param>
    /// <exception cref="AgentOsException">
    /// <see cref="AgentOsErrorCode.UnknownSession"/> for a session the VM does not have;
    /// <see cref="AgentOsErrorCode.ElicitationNotPending"/> when no such elicitation waits;
    /// <see cref="AgentOsErrorCode.InvalidArgument"/> for content that does not fit the form (a field it does not ask for, of the
    /// wrong type, a required one missing) or content for a URL elicitation; the message says which, and the request keeps waiting.
    /// </exception>
    [Alias("RespondElicitation")]
    Task RespondElicitation(string sessionId, long requestId, ElicitationAnswer answer);

    /// <summary>The session's elicitations waiting for <see cref="RespondElicitation"/>, oldest first. Empty for a session whose agent is not running.</summary>
    [Alias("GetPendingElicitations")]
    Task<IReadOnlyList<PendingElicitation>> GetPendingElicitations(string sessionId);

    /// <summary>
    /// The session's modes: the current one and those the agent offers (null when it offers none).
    /// Current as the agent last reported it (<c>current_mode_update</c>). Live sessions only:
    /// a suspended, closed or crashed one gives <see cref="AgentOsErrorCode.UnknownSession"/>; resume it first.
    /// </summary>
    [Alias("GetModes")]
    Task<SessionModes?> GetModes(string sessionId);

    /// <summary>
    /// The session's models as the agent offered them in ACP <c>models</c> (the current one and the list; null when it
    /// offers none): what agents without a config option of category <c>model</c> have, as pi and Claude Code do today.
    /// Current as of <see cref="SetModel"/>. Live sessions only, like <see cref="GetModes"/>.
    /// </summary>
    [Alias("GetModels")]
    Task<SessionModels?> GetModels(string sessionId);

    /// <summary>
    /// The session's config options (category mode, model, thought_level, …) with their current values,
    /// as the agent last reported them (<c>config_option_update</c>, <c>session/set_config_option</c>). Live sessions only.
    /// </summary>
    [Alias("GetConfigOptions")]
    Task<IReadOnlyList<ConfigOption>> GetConfigOptions(string sessionId);

    /// <summary>
    /// Switches the session's mode: ACP <c>session/set_config_option</c> when the agent offers a config
    /// option of category <c>mode</c>, else <c>session/set_mode</c>. A mode the agent does not offer gives
    /// <see cref="AgentOsErrorCode.InvalidArgument"/> listing those it does, without asking the agent; an
    /// agent that refuses gives <see cref="AgentOsErrorCode.AgentProtocolError"/>. Live sessions only
    /// (<see cref="AgentOsErrorCode.UnknownSession"/> otherwise; resume first). Allowed while a turn runs.
    /// The session's mode, model and thought level are stored (also when the agent changed them itself) and
    /// set again on the restored agent when the session is resumed.
    /// </summary>
    [Alias("SetMode")]
    Task SetMode(string sessionId, string modeId);

    /// <summary>
    /// Switches the session's model: <c>session/set_config_option</c> when the agent offers a config option of
    /// category <c>model</c>, else <c>session/set_model</c>. A model outside the agent's list gives
    /// <see cref="AgentOsErrorCode.InvalidArgument"/> listing it (an agent that lists no models is asked as is).
    /// Live sessions only, like <see cref="SetMode"/>.
    /// </summary>
    [Alias("SetModel")]
    Task SetModel(string sessionId, string modelId);

    /// <summary>
    /// Sets the session's thought level through <c>session/set_config_option</c> on the agent's config option of
    /// category <c>thought_level</c>. An agent without one gives <see cref="AgentOsErrorCode.InvalidArgument"/>
    /// (some agents, like pi, express thinking levels as modes: use <see cref="SetMode"/>); so does a level it
    /// does not offer. Live sessions only, like <see cref="SetMode"/>.
    /// </summary>
    [Alias("SetThoughtLevel")]
    Task SetThoughtLevel(string sessionId, string level);

    /// <summary>
    /// Restarts the agent of a suspended, closed or crashed session and restores its conversation
    /// (ACP <c>session/load</c>, else <c>session/resume</c>, else a new session primed with context from
    /// the transcript). Same session id; seq continues. A running session is returned as it is.
    /// </summary>
    [Alias("ResumeSession"), ResponseTimeout("00:05:00")]
    Task<SessionInfo> ResumeSession(string sessionId);

    /// <summary>Stops the session's agent gracefully (stdin closed, then SIGINT, then kill); keeps every event. It can be resumed.</summary>
    [Alias("CloseSession"), ResponseTimeout("00:01:00")]
    Task CloseSession(string sessionId);

    /// <summary>Stops the session's agent and deletes the session and all its events.</summary>
    [Alias("DestroySession"), ResponseTimeout("00:01:00")]
    Task DestroySession(string sessionId);

    /// <summary>
    /// Puts the VM to sleep now: its agents stop, its sessions become suspended, the grain deactivates.
    /// Refused with <see cref="AgentOsErrorCode.SessionBusy"/> while a prompt runs or is queued. The next call wakes it.
    /// </summary>
    [Alias("Sleep"), ResponseTimeout("00:01:00")]
    Task Sleep();

    /// <summary>
    /// Deletes the VM with all its data: its agents are stopped, then its sessions, transcripts and home are removed
    /// from disk as the VM deactivates, moments after this returns. Refused with <see cref="AgentOsErrorCode.SessionBusy"/>
    /// while a prompt runs or is queued. The next call to this VM id starts an empty VM.
    /// </summary>
    [Alias("DestroyVm"), ResponseTimeout("00:01:00")]
    Task DestroyVm();

    /// <summary>
    /// Persisted events with seq &gt; <paramref name="since"/>, at most <paramref name="limit"/> of them, in seq
    /// order, and none more once their params reach <see cref="SessionEventBatch.MaxPageBytes"/>: the one history
    /// read, a page at a time (ask again after the last seq while <see cref="SessionEventBatch.IsFullPage"/>; the SDK's
    /// <c>GetEventsAsync()</c> does, for the whole transcript). Works while the VM sleeps; never starts an agent.
    /// </summary>
    [Alias("GetSequencedEvents")]
    Task<IReadOnlyList<SessionEvent>> GetSequencedEvents(string sessionId, long since, int limit = 10_000);

    /// <summary>
    /// Every session this VM has persisted, newest first, with its title (the agent's last <c>session_info_update</c>) and its use
    /// (as <see cref="GetUsage"/>), both kept in the session's row as its events are committed: no transcript is read.
    /// </summary>
    [Alias("ListPersistedSessions")]
    Task<IReadOnlyList<PersistedSession>> ListPersistedSessions();

    /// <summary>Sessions whose agent is running now.</summary>
    [Alias("ListSessions")]
    Task<IReadOnlyList<string>> ListSessions();

    /// <summary>
    /// A session's use so far, from its transcript (live or not): the tokens its turns reported, summed, and the agent's
    /// last <c>usage_update</c> (context window and cost). Figures an agent never reports stay zero or null.
    /// </summary>
    [Alias("GetUsage")]
    Task<SessionUsage> GetUsage(string sessionId);

    /// <summary>What the VM uses now: each live agent's memory, CPU time and processes (from its cgroup), and its home's size on disk.</summary>
    [Alias("GetVmInfo")]
    Task<VmInfo> GetVmInfo();
}

/// <summary>Names shared by the server and the client.</summary>
public static class AgentOsNames
{
    /// <summary>The Orleans stream provider carrying session events.</summary>
    public const string StreamProvider = "AgentOs";

    /// <summary>
    /// The stream namespace of a VM's session events (every session's); the stream key is the VM id. A
    /// subscription whose filter data is a session id is sent only the batches holding events of that session.
    /// </summary>
    public const string SessionEventStream = "sessionEvent";

    /// <summary>The default Orleans cluster and service id.</summary>
    public const string DefaultClusterId = "agentos";
}
