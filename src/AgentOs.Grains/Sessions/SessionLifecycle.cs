using AgentOs.Storage;

namespace AgentOs.Sessions;

/// <summary>Why a live session's agent stopped.</summary>
internal enum StopCause
{
    /// <summary>The VM goes to sleep (idle, <c>Sleep</c>, server shutdown).</summary>
    Sleep,

    /// <summary>AgentOs restarts the agent (it ignored <c>session/cancel</c>); a resume follows.</summary>
    Restart,

    /// <summary>A client closed the session.</summary>
    Close,

    /// <summary>The agent exited on its own.</summary>
    Exited,
}

/// <summary>
/// The session lifecycle of one VM: the only place that changes a session's status, each transition one
/// write to the VM's database (the status, with what the new state needs: the agent's ACP session id, the
/// runtime configuration to re-apply on resume).
/// <code>
///   (none)    ─Create────────────────────────→ Starting
///   Starting  ─Started──→ Active     ─StartFailed→ Crashed
///   Active    ─Stopped──→ Suspended (sleep, restart) | Closed (close, expected exit) | Crashed (unexpected exit)
///   Suspended, Closed, Crashed ─Resuming→ Starting        ─Close→ Closed
///   Starting, Active (left by a killed server) ─Recover→ Suspended
///   any       ─Destroy──→ Destroyed (the row and every event deleted)
/// </code>
/// A transition is applied only from the states it allows (the database checks, in the same statement); a
/// session in another state is a bug and throws. A session destroyed meanwhile is no error: the transition
/// returns false.
/// </summary>
internal sealed class SessionLifecycle(VmStore store, string vmId)
{
    private static readonly SessionStatus[] Resumable = [SessionStatus.Suspended, SessionStatus.Closed, SessionStatus.Crashed];
    private static readonly SessionStatus[] Starting = [SessionStatus.Starting];
    private static readonly SessionStatus[] Active = [SessionStatus.Active];
    private static readonly SessionStatus[] Running = [SessionStatus.Starting, SessionStatus.Active];

    /// <summary>A new session: its row, in state <see cref="SessionStatus.Starting"/>, with the options resume needs.</summary>
    public void Create(string sessionId, string agentType, string cwd, string protectedOptionsJson) =>
        store.InsertSession(new SessionRecord(sessionId, agentType, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), SessionStatus.Starting, cwd, null, protectedOptionsJson));

    /// <summary>A stopped session's agent is being started again.</summary>
    public bool Resuming(string sessionId) => Transition(sessionId, Resumable, SessionStatus.Starting);

    /// <summary>The agent is up and its ACP session set up.</summary>
    public bool Started(string sessionId, string acpSessionId, string configJson) =>
        Transition(sessionId, Starting, SessionStatus.Active, acpSessionId, configJson);

    /// <summary>The agent could not be started (or restored).</summary>
    public bool StartFailed(string sessionId) => Transition(sessionId, Starting, SessionStatus.Crashed);

    /// <summary>
    /// A live session's agent stopped because of <paramref name="cause"/>. <paramref name="crashed"/>: it had
    /// exited unexpectedly (before it was asked to stop), which makes the session <see cref="SessionStatus.Crashed"/>
    /// whatever the cause. <paramref name="configJson"/> is its configuration as it last was.
    /// </summary>
    public bool Stopped(string sessionId, StopCause cause, bool crashed, string configJson) =>
        Transition(sessionId, Active, crashed ? SessionStatus.Crashed : cause switch
        {
            StopCause.Sleep or StopCause.Restart => SessionStatus.Suspended,
            StopCause.Close or StopCause.Exited => SessionStatus.Closed,
            _ => throw new ArgumentOutOfRangeException(nameof(cause), cause, null),
        }, configJson: configJson);

    /// <summary>A client closes a session whose agent is not running.</summary>
    public bool Close(string sessionId) => Transition(sessionId, Resumable, SessionStatus.Closed);

    /// <summary>A live session's configuration changed (no change of state).</summary>
    public void SaveConfig(string sessionId, string configJson) => store.UpdateConfig(sessionId, configJson);

    /// <summary>The session and every event of it are deleted.</summary>
    public void Destroy(string sessionId) => store.DeleteSession(sessionId);

    /// <summary>At activation: sessions a killed server left starting or active have no agent any more.</summary>
    public int RecoverAfterRestart() => store.SetStatus(null, Running, SessionStatus.Suspended);

    private bool Transition(string sessionId, IReadOnlyCollection<SessionStatus> from, SessionStatus to, string? acpSessionId = null, string? configJson = null)
    {
        if (store.SetStatus(sessionId, from, to, acpSessionId, configJson) == 1)
        {
            return true;
        }

        var current = store.GetSession(sessionId)?.Status;
        return current is null
            ? false // destroyed meanwhile
            : throw new InvalidOperationException(
                $"Session '{sessionId}' in VM '{vmId}' cannot go from {current} to {to} (allowed from: {string.Join(", ", from)}).");
    }
}
