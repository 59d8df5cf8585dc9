namespace AgentOs;

/// <summary>What went wrong, for clients to switch on.</summary>
public enum AgentOsErrorCode
{
    Unknown = 0,
    InvalidVmId = 1,
    UnknownAgentType = 2,
    UnknownSession = 3,
    AgentExited = 4,
    AgentTimeout = 5,
    AgentProtocolError = 6,
    AgentStartFailed = 7,
    InvalidArgument = 8,
    InvalidPath = 9,
    SessionBusy = 10,
    ServerUnavailable = 11,

    /// <summary>No such permission request is waiting: it was answered already, timed out, was cancelled, or never existed.</summary>
    PermissionNotPending = 12,

    /// <summary>A software package could not be installed (npm or node missing, install failed).</summary>
    SoftwareUnavailable = 20,

    /// <summary>The agent type needs credentials (an API key) that neither the server nor the session gave.</summary>
    MissingCredentials = 21,

    /// <summary>
    /// The VM's database could not store events (locked by another process, disk full, I/O error) within
    /// <c>AgentOs:StorageRetryTimeout</c>, or free space under the databases is below <c>AgentOs:MinFreeDiskBytes</c>.
    /// Nothing is lost silently: a lost event is recorded as <c>_agentos/events_lost</c>.
    /// </summary>
    StorageUnavailable = 22,

    /// <summary>
    /// The agent hit a resource limit and was killed for it (the kernel's OOM killer at its memory limit); the message
    /// names the limit and the option that sets it. The session can be resumed.
    /// </summary>
    ResourceLimit = 23,

    /// <summary>A count the server bounds is reached (<c>AgentOs:MaxSessionsPerVm</c>, <c>MaxLiveAgents</c>, <c>MaxActiveVms</c>); the message names it.</summary>
    QuotaExceeded = 24,

    /// <summary>No such elicitation is waiting: it was answered already, timed out, was cancelled, or never existed.</summary>
    ElicitationNotPending = 25,

    /// <summary>A request carries more than a limit allows (a prompt over <c>AgentOs:MaxPromptLength</c>, an HTTP body too large); the message names the limit.</summary>
    PayloadTooLarge = 26,
}

/// <summary>An error from AgentOs with a code clients can switch on and a message that says what to do.</summary>
[GenerateSerializer, Alias("AgentOs.AgentOsException")]
public class AgentOsException : Exception
{
    public AgentOsException() { }

    public AgentOsException(string message) : base(message) { }

    public AgentOsException(string message, Exception? innerException) : base(message, innerException) { }

    public AgentOsException(AgentOsErrorCode code, string message, Exception? innerException = null)
        : base(message, innerException) => Code = code;

    /// <summary>The kind of failure.</summary>
    [Id(0)] public AgentOsErrorCode Code { get; init; }

    /// <summary>For <see cref="AgentOsErrorCode.AgentExited"/>: the agent's exit code, when known.</summary>
    [Id(1)] public int? ExitCode { get; init; }

    /// <summary>The last lines the agent wrote to stderr, when relevant.</summary>
    [Id(2)] public string? StderrTail { get; init; }

    /// <summary>The session concerned, when there is one.</summary>
    [Id(3)] public string? SessionId { get; init; }
}
