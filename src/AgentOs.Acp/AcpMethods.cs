namespace AgentOs.Acp;

/// <summary>ACP method names (protocol version 1).</summary>
public static class AcpMethods
{
    public const string Initialize = "initialize";
    public const string SessionNew = "session/new";
    public const string SessionLoad = "session/load";
    public const string SessionResume = "session/resume";
    public const string SessionPrompt = "session/prompt";
    public const string SessionCancel = "session/cancel";
    public const string SessionSetMode = "session/set_mode";
    public const string SessionSetModel = "session/set_model";
    public const string SessionSetConfigOption = "session/set_config_option";
    public const string SessionClose = "session/close";
    public const string SessionDelete = "session/delete";
    public const string SessionUpdate = "session/update";
    public const string SessionRequestPermission = "session/request_permission";
    public const string FsReadTextFile = "fs/read_text_file";
    public const string FsWriteTextFile = "fs/write_text_file";
    public const string TerminalCreate = "terminal/create";
    public const string TerminalOutput = "terminal/output";
    public const string TerminalWaitForExit = "terminal/wait_for_exit";
    public const string TerminalKill = "terminal/kill";
    public const string TerminalRelease = "terminal/release";
    public const string ElicitationCreate = "elicitation/create";

    /// <summary>A notification of the agent: a URL-mode elicitation it asked for is complete.</summary>
    public const string ElicitationComplete = "elicitation/complete";

    /// <summary>The protocol version AgentOs speaks; always sent in <c>initialize</c>.</summary>
    public const int ProtocolVersion = 1;
}

/// <summary>JSON-RPC 2.0 error codes used by ACP.</summary>
public static class JsonRpcErrorCodes
{
    public const int ParseError = -32700;
    public const int InvalidRequest = -32600;
    public const int MethodNotFound = -32601;
    public const int InvalidParams = -32602;
    public const int InternalError = -32603;
}
