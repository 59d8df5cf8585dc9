using System.Text.Json;
using System.Text.Json.Serialization;

namespace AgentOs.Server.Http;

/// <summary>A VM this server holds (<c>GET /v1/vms</c>).</summary>
/// <param name="Id">The VM id (segments joined by <c>/</c>; in a URL, <c>/</c> is written <c>%2F</c>).</param>
/// <param name="Active">Whether it is awake now (its grain active); a sleeping VM wakes on the next call.</param>
/// <param name="LastActivity">When the VM last wrote to its database (an event, a session change), read from its files without waking it.</param>
/// <param name="LiveSessions">Sessions whose agent runs (or starts) now.</param>
/// <param name="HomeBytes">
/// The disk its home takes (files rounded up to 4 KiB blocks, as the disk quota counts), measured at most every 30 s while the
/// VM is awake; for a sleeping VM the last measure this server made, null when it made none. Listing wakes no VM.
/// </param>
public sealed record VmSummary(string Id, bool Active, DateTimeOffset? LastActivity, int LiveSessions, long? HomeBytes);

/// <summary>An agent type sessions may be created with (<c>GET /v1/agent-types</c>).</summary>
/// <param name="Name">What <c>agentType</c> names in <c>POST …/sessions</c>.</param>
/// <param name="BuiltIn">A built-in software package (installed from npm on first use), not one declared under <c>AgentOs:Agents</c>.</param>
public sealed record AgentTypeSummary(string Name, bool BuiltIn);

/// <summary>The body of <c>POST /v1/vms/{vm}/sessions</c>: the agent type and <see cref="CreateSessionOptions"/>.</summary>
public sealed record CreateSessionRequest
{
    /// <summary>The agent type: a built-in (<c>pi</c>, <c>claude-code</c>, <c>codex</c>, <c>opencode</c>) or one declared under <c>AgentOs:Agents</c>.</summary>
    public required string AgentType { get; init; }

    /// <summary>The agent's environment on top of a minimal base (PATH, HOME, LANG, TERM); stored encrypted, never logged.</summary>
    public Dictionary<string, string>? Env { get; init; }

    /// <summary>Working directory inside the VM; default <c>/home/agentos</c>.</summary>
    public string? Cwd { get; init; }

    /// <summary>MCP servers the agent may use.</summary>
    public List<McpServerRequest>? McpServers { get; init; }

    /// <summary>Text appended to the agent's system prompt.</summary>
    public string? AdditionalInstructions { get; init; }

    /// <summary>Skip the base OS instructions (tool documentation is kept).</summary>
    public bool SkipOsInstructions { get; init; }

    /// <summary>How the agent's permission requests are answered: <c>allowAll</c> (default), <c>ask</c>, <c>rejectAll</c>.</summary>
    public PermissionPolicy? PermissionPolicy { get; init; }

    /// <summary>With <c>ask</c>: seconds a request waits for an answer before it is rejected (default: the server's, 300).</summary>
    public double? PermissionTimeoutSeconds { get; init; }

    /// <summary>This session's agent's resource limits, each at most the server's maxima.</summary>
    public ResourceLimits? Limits { get; init; }
}

/// <summary>An MCP server, as the reference docs write it: <c>{ type: "local", command, args, env }</c> or <c>{ type: "remote", url, headers }</c>.</summary>
public sealed record McpServerRequest
{
    /// <summary><c>local</c> (a command the agent starts) or <c>remote</c> (a URL); taken from which fields are set when left out.</summary>
    public string? Type { get; init; }

    /// <summary>The name the agent knows it by; default <c>mcp-&lt;index&gt;</c>.</summary>
    public string? Name { get; init; }

    public string? Command { get; init; }

    public List<string>? Args { get; init; }

    public Dictionary<string, string>? Env { get; init; }

    public string? Url { get; init; }

    public Dictionary<string, string>? Headers { get; init; }

    /// <summary>For a remote server: <c>http</c> (default) or <c>sse</c>.</summary>
    public string? Transport { get; init; }
}

/// <summary>A started or resumed session (<see cref="SessionInfo"/>).</summary>
public sealed record SessionInfoResponse
{
    public required string SessionId { get; init; }

    public required string AgentType { get; init; }

    /// <summary>The agent's ACP <c>agentCapabilities</c> as it sent them.</summary>
    public required JsonElement Capabilities { get; init; }

    public AgentInfo? AgentInfo { get; init; }

    public SessionModes? Modes { get; init; }

    public IReadOnlyList<ConfigOption> ConfigOptions { get; init; } = [];

    public SessionModels? Models { get; init; }

    /// <summary>The agent's own ACP session id.</summary>
    public string? AcpSessionId { get; init; }

    /// <summary>The agent's process id on the host.</summary>
    public int ProcessId { get; init; }
}

/// <summary>
/// The body of <c>POST …/prompt</c>: <see cref="Text"/>, or <see cref="Content"/> blocks (text, image, audio,
/// resource, resourceLink); exactly one of them.
/// </summary>
public sealed record PromptRequest
{
    public string? Text { get; init; }

    public List<PromptContent>? Content { get; init; }
}

/// <summary>A permission request waiting for an answer (<see cref="PendingPermission"/>).</summary>
public sealed record PendingPermissionResponse
{
    /// <summary>The seq of its <c>session/request_permission</c> event: the id to answer it with.</summary>
    public required long RequestId { get; init; }

    public required IReadOnlyList<PermissionOption> Options { get; init; }

    /// <summary>The request's ACP params (<c>{ sessionId, toolCall, options }</c>).</summary>
    public required JsonElement Params { get; init; }

    public DateTimeOffset RequestedAt { get; init; }

    public DateTimeOffset ExpiresAt { get; init; }
}

/// <summary>The body of <c>POST …/permissions/{requestId}</c>.</summary>
/// <param name="OptionId">One of the request's options' <c>optionId</c>.</param>
public sealed record PermissionAnswer(string OptionId);

/// <summary>An elicitation of the agent (ACP <c>elicitation/create</c>) waiting for an answer.</summary>
public sealed record PendingElicitationResponse
{
    /// <summary>The seq of its <c>elicitation/create</c> event: the id to answer it with.</summary>
    public required long RequestId { get; init; }

    /// <summary><c>form</c> or <c>url</c> (or a mode newer than AgentOs: see <see cref="Params"/>).</summary>
    public required string Mode { get; init; }

    /// <summary>What the agent asks for and why, for the user.</summary>
    public required string Message { get; init; }

    /// <summary>For <c>form</c>: the restricted JSON Schema of the fields.</summary>
    public JsonElement? RequestedSchema { get; init; }

    /// <summary>For <c>url</c>: where to send the user (show its host and ask before opening it).</summary>
    public string? Url { get; init; }

    /// <summary>For <c>url</c>: the agent's id of the elicitation.</summary>
    public string? ElicitationId { get; init; }

    /// <summary>The tool call it belongs to, when the agent says.</summary>
    public string? ToolCallId { get; init; }

    /// <summary>The request's ACP params.</summary>
    public required JsonElement Params { get; init; }

    public DateTimeOffset RequestedAt { get; init; }

    public DateTimeOffset ExpiresAt { get; init; }
}

/// <summary>The body of <c>POST …/elicitations/{requestId}</c>: <c>accept</c> (with a form's fields as <see cref="Content"/>), <c>decline</c> or <c>cancel</c>.</summary>
public sealed record ElicitationAnswerRequest(ElicitationAction Action, JsonElement? Content = null);

/// <summary>The body of <c>PUT …/mode</c>.</summary>
public sealed record SetModeRequest(string ModeId);

/// <summary>The body of <c>PUT …/model</c>.</summary>
public sealed record SetModelRequest(string ModelId);

/// <summary>The body of <c>PUT …/thought-level</c>.</summary>
public sealed record SetThoughtLevelRequest(string Level);

/// <summary>
/// One event of a session, as every read and stream of the HTTP API writes it:
/// <c>{ sessionId, seq, createdAt, event: { method, params } }</c>.
/// </summary>
public sealed record SessionEventJson(string SessionId, long Seq, DateTimeOffset CreatedAt, AcpMessageJson Event);

/// <summary>The ACP message an event holds (or an <c>_agentos/…</c> one): its method and its params as sent.</summary>
public sealed record AcpMessageJson(string Method, JsonElement Params);

/// <summary>A page of history (<c>GET …/events</c> as JSON).</summary>
/// <param name="Events">Events with seq &gt; <c>since</c>, in order.</param>
/// <param name="More">Whether the page may have stopped before the end (it reached <c>limit</c>, or 4 MiB of params): ask again with <c>since</c> = the last seq.</param>
public sealed record EventsPage(IReadOnlyList<SessionEventJson> Events, bool More);

/// <summary>The answer of <c>GET /version</c>.</summary>
public sealed record VersionInfo(string AgentOs, string Orleans, string Dotnet);

/// <summary>The HTTP API's JSON types, source-generated.</summary>
[JsonSerializable(typeof(VersionInfo))]
[JsonSerializable(typeof(VmSummary))]
[JsonSerializable(typeof(IReadOnlyList<VmSummary>))]
[JsonSerializable(typeof(IReadOnlyList<AgentTypeSummary>))]
[JsonSerializable(typeof(VmInfo))]
[JsonSerializable(typeof(CreateSessionRequest))]
[JsonSerializable(typeof(SessionInfoResponse))]
[JsonSerializable(typeof(PersistedSession))]
[JsonSerializable(typeof(IReadOnlyList<PersistedSession>))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
[JsonSerializable(typeof(PromptRequest))]
[JsonSerializable(typeof(PromptResult))]
[JsonSerializable(typeof(PendingPermissionResponse))]
[JsonSerializable(typeof(IReadOnlyList<PendingPermissionResponse>))]
[JsonSerializable(typeof(PermissionAnswer))]
[JsonSerializable(typeof(PendingElicitationResponse))]
[JsonSerializable(typeof(IReadOnlyList<PendingElicitationResponse>))]
[JsonSerializable(typeof(ElicitationAnswerRequest))]
[JsonSerializable(typeof(SessionModes))]
[JsonSerializable(typeof(SessionModels))]
[JsonSerializable(typeof(IReadOnlyList<ConfigOption>))]
[JsonSerializable(typeof(SetModeRequest))]
[JsonSerializable(typeof(SetModelRequest))]
[JsonSerializable(typeof(SetThoughtLevelRequest))]
[JsonSerializable(typeof(SessionUsage))]
[JsonSerializable(typeof(EventsPage))]
[JsonSerializable(typeof(SessionEventJson))]
[JsonSerializable(typeof(Microsoft.AspNetCore.Mvc.ProblemDetails))]
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
internal sealed partial class HttpJsonContext : JsonSerializerContext;
