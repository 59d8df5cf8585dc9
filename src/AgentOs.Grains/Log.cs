using Microsoft.Extensions.Logging;

namespace AgentOs;

/// <summary>Every log line of the grains layer; entity first.</summary>
internal static partial class Log
{
    [LoggerMessage(Level = LogLevel.Information, Message = "VM {VmId}: session {SessionId} started agent '{AgentType}' (pid {Pid}) in {ElapsedMs} ms")]
    public static partial void SessionStarted(ILogger logger, string vmId, string sessionId, string agentType, int pid, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "VM {VmId}: session {SessionId} agent exited with code {ExitCode} (expected: {Expected})")]
    public static partial void AgentExited(ILogger logger, string vmId, string sessionId, int? exitCode, bool expected);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {VmId}: session {SessionId} could not start: {Reason}")]
    public static partial void SessionStartFailed(ILogger logger, string vmId, string sessionId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "VM {VmId}: activated ({SessionCount} persisted sessions, {Recovered} marked suspended)")]
    public static partial void VmActivated(ILogger logger, string vmId, int sessionCount, int recovered);

    [LoggerMessage(Level = LogLevel.Information, Message = "VM {VmId}: deactivating ({Reason}); stopping {SessionCount} agents")]
    public static partial void VmDeactivating(ILogger logger, string vmId, string reason, int sessionCount);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {VmId}: the database holds a row at a seq AgentOs was about to use (another writer?): {Reason}; reloaded MAX(seq) of the batch's sessions and numbered the batch after it")]
    public static partial void SeqConflict(ILogger logger, string vmId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "VM {VmId}: committing {Count} events failed (attempt {Attempt}); retrying while the VM's agents are held back")]
    public static partial void CommitFailed(ILogger logger, string vmId, int count, int attempt, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {VmId}: session {SessionId} seqs {First} to {Last} were handed out before the host lost power or rebooted and hold no event; filled with _agentos/events_lost markers so no seq is reused")]
    public static partial void PowerLossFilled(ILogger logger, string vmId, string sessionId, long first, long last);

    [LoggerMessage(Level = LogLevel.Information, Message = "VM {VmId}: destroying it with all its data ({SessionCount} live sessions to stop)")]
    public static partial void VmDestroying(ILogger logger, string vmId, int sessionCount);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {VmId}: its folders could not be removed: {Reason}")]
    public static partial void VmFoldersNotRemoved(ILogger logger, string vmId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {VmId}: committed {Count} events at attempt {Attempt}, {Seconds:0.0} s after the first failure")]
    public static partial void CommitRecovered(ILogger logger, string vmId, int count, int attempt, double seconds);

    [LoggerMessage(Level = LogLevel.Critical, Message = "VM {VmId}: session {SessionId} lost {Count} events that could not be stored for {BudgetSeconds} s (AgentOs:StorageRetryTimeout); they were never published, its turn fails with StorageUnavailable, its agent is stopped, and _agentos/events_lost records the loss once storage works")]
    public static partial void LostEvents(ILogger logger, string vmId, string sessionId, int count, double budgetSeconds, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {VmId}: publishing {Count} committed events failed (attempt {Attempt}); subscribers can replay them from the store")]
    public static partial void PublishFailed(ILogger logger, string vmId, int count, int attempt, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {VmId}: session {SessionId} agent wrote a line that is not ACP: {Reason}")]
    public static partial void MalformedLine(ILogger logger, string vmId, string sessionId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {VmId}: session {SessionId} agent request {Method} refused: {Reason}")]
    public static partial void AgentRequestRefused(ILogger logger, string vmId, string sessionId, string method, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "VM {VmId}: session {SessionId} terminal {TerminalId} started (pid {Pid})")]
    public static partial void TerminalStarted(ILogger logger, string vmId, string sessionId, string terminalId, int pid);

    [LoggerMessage(Level = LogLevel.Error, Message = "VM {VmId}: OnAgentStderr callback failed")]
    public static partial void StderrCallbackFailed(ILogger logger, string vmId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {VmId}: session {SessionId} could not restore its {Category} '{Value}' after resume: {Reason}")]
    public static partial void ConfigNotRestored(ILogger logger, string vmId, string sessionId, string category, string value, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {VmId}: session {SessionId}: the agent did not answer {Method}: {Reason}; stopping it anyway")]
    public static partial void SessionEndRefused(ILogger logger, string vmId, string sessionId, string method, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {VmId}: session {SessionId} agent (pid {Pid}) did not exit in time; killed")]
    public static partial void AgentKilled(ILogger logger, string vmId, string sessionId, int pid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {VmId}: session {SessionId} agent (pid {Pid}) did not end its turn within {GraceMs} ms of session/cancel; the turn was ended as cancelled")]
    public static partial void TurnEndedAfterIgnoredCancel(ILogger logger, string vmId, string sessionId, int pid, long graceMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {VmId}: session {SessionId} restarting its agent (pid {Pid}): {Reason}")]
    public static partial void AgentRestarting(ILogger logger, string vmId, string sessionId, int pid, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "VM {VmId}: session {SessionId} could not restart its agent: {Reason}")]
    public static partial void AgentRestartFailed(ILogger logger, string vmId, string sessionId, string reason);
}
