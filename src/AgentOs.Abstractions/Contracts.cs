namespace AgentOs;

/// <summary>Options of <see cref="IVmGrain.CreateSession"/>.</summary>
[GenerateSerializer, Immutable, Alias("AgentOs.CreateSessionOptions")]
public sealed record CreateSessionOptions
{
    /// <summary>The agent's environment on top of a minimal base (PATH, HOME, LANG, TERM). The host's is not inherited.</summary>
    [Id(0)] public IReadOnlyDictionary<string, string>? Env { get; init; }

    /// <summary>Working directory inside the VM; default <c>/home/agentos</c>.</summary>
    [Id(1)] public string? Cwd { get; init; }

    /// <summary>MCP servers the agent may use.</summary>
    [Id(2)] public IReadOnlyList<McpServerConfig>? McpServers { get; init; }

    /// <summary>Text appended to the agent's system prompt.</summary>
    [Id(3)] public string? AdditionalInstructions { get; init; }

    /// <summary>Skip the base OS instructions (tool documentation is kept).</summary>
    [Id(4)] public bool SkipOsInstructions { get; init; }

    /// <summary>
    /// How the agent's ACP <c>session/request_permission</c> requests are answered. Default
    /// <see cref="AgentOs.PermissionPolicy.AllowAll"/>. Stored with the session's options: it survives resume.
    /// </summary>
    [Id(5)] public PermissionPolicy PermissionPolicy { get; init; }

    /// <summary>
    /// With <see cref="AgentOs.PermissionPolicy.Ask"/>: how long a request waits for
    /// <see cref="IVmGrain.RespondPermission"/> before it is rejected. Null: the server's
    /// <c>AgentOs:PermissionTimeout</c> (5 minutes).
    /// </summary>
    [Id(6)] public TimeSpan? PermissionTimeout { get; init; }

    /// <summary>
    /// This session's agent's resource limits, each at most the server's <c>AgentOs:MaxAgentLimits</c>; a field left
    /// null takes the server's <c>AgentOs:AgentLimits</c>. Stored with the session's options: they survive resume.
    /// </summary>
    [Id(7)] public ResourceLimits? Limits { get; init; }
}

/// <summary>What a VM uses now (<see cref="IVmGrain.GetVmInfo"/>).</summary>
[GenerateSerializer, Immutable, Alias("AgentOs.VmInfo")]
public sealed record VmInfo
{
    [Id(0)] public required string VmId { get; init; }

    /// <summary>The disk the VM's home takes: its files rounded up to 4 KiB blocks, 4 KiB per folder (what <see cref="DiskQuotaBytes"/> is held against).</summary>
    [Id(1)] public long HomeBytes { get; init; }

    /// <summary>The VM's disk quota (<c>AgentOs:VmDiskQuota</c>) in bytes; 0 when it has none.</summary>
    [Id(3)] public long DiskQuotaBytes { get; init; }

    /// <summary>Each live agent's use, with every process it started (null figures: limits are not enforced on this host).</summary>
    [Id(2)] public IReadOnlyList<AgentUsage> Agents { get; init; } = [];
}

/// <summary>One live agent's use of its cgroup.</summary>
[GenerateSerializer, Immutable, Alias("AgentOs.AgentUsage")]
public sealed record AgentUsage
{
    [Id(0)] public required string SessionId { get; init; }
    [Id(1)] public required string AgentType { get; init; }
    [Id(2)] public int ProcessId { get; init; }

    /// <summary>Memory charged to the agent now, in bytes.</summary>
    [Id(3)] public long? MemoryBytes { get; init; }

    /// <summary>CPU time the agent and its processes used so far.</summary>
    [Id(4)] public TimeSpan? CpuTime { get; init; }

    /// <summary>Processes and threads now.</summary>
    [Id(5)] public int? Processes { get; init; }

    /// <summary>The limits it runs under.</summary>
    [Id(6)] public ResourceLimits? Limits { get; init; }
}

/// <summary>What one agent (its process and every descendant, in a cgroup of its own) may use.</summary>
[GenerateSerializer, Immutable, Alias("AgentOs.ResourceLimits")]
public sealed record ResourceLimits
{
    /// <summary>Memory in bytes, swap not counted as room (cgroup <c>memory.max</c>, swap off). Past it the kernel's OOM killer picks a process of the agent.</summary>
    [Id(0)] public long? MemoryBytes { get; init; }

    /// <summary>Processes and threads at once (cgroup <c>pids.max</c>); one more <c>fork</c> fails with EAGAIN.</summary>
    [Id(1)] public int? Processes { get; init; }

    /// <summary>CPU weight against other agents when the CPU is contended, 1 to 10000, 100 the default (cgroup <c>cpu.weight</c>).</summary>
    [Id(2)] public int? CpuWeight { get; init; }

    /// <summary>A hard CPU quota in cores (0.5: half of one core), also when the CPU is idle (cgroup <c>cpu.max</c>); null: none.</summary>
    [Id(3)] public double? CpuCores { get; init; }
}

/// <summary>How a session answers its agent's permission requests (ACP <c>session/request_permission</c>).</summary>
public enum PermissionPolicy
{
    /// <summary>
    /// Allow at once: the agent's <c>allow_once</c> option, else its <c>allow_always</c>. The default, so an
    /// agent works unattended, as an agent run in a VM is meant to.
    /// </summary>
    AllowAll = 0,

    /// <summary>
    /// The client decides: the request waits, as a <c>session/request_permission</c> event whose seq is the
    /// request id, for <see cref="IVmGrain.RespondPermission"/>; unanswered within the permission timeout it
    /// is rejected.
    /// </summary>
    Ask = 1,

    /// <summary>Reject at once: the agent's <c>reject_once</c> option, else the outcome <c>cancelled</c>.</summary>
    RejectAll = 2,
}

/// <summary>A permission request of the agent waiting for <see cref="IVmGrain.RespondPermission"/>.</summary>
[GenerateSerializer, Immutable, Alias("AgentOs.PendingPermission")]
public sealed record PendingPermission
{
    /// <summary>The seq of the request's <c>session/request_permission</c> event: the id to answer it with.</summary>
    [Id(0)] public required long RequestId { get; init; }

    /// <summary>The options the agent offers; answer with one of their ids.</summary>
    [Id(1)] public required IReadOnlyList<PermissionOption> Options { get; init; }

    /// <summary>The request's ACP params as JSON (<c>{ sessionId, toolCall, options }</c>): what the agent wants to do.</summary>
    [Id(2)] public required string Params { get; init; }

    /// <summary>When the request arrived.</summary>
    [Id(3)] public DateTimeOffset RequestedAt { get; init; }

    /// <summary>When it will be rejected if nobody answers.</summary>
    [Id(4)] public DateTimeOffset ExpiresAt { get; init; }
}

/// <summary>One answer the agent offers to a permission request.</summary>
/// <param name="OptionId">The id to pass to <see cref="IVmGrain.RespondPermission"/>.</param>
/// <param name="Name">Its label.</param>
/// <param name="Kind"><c>allow_once</c>, <c>allow_always</c>, <c>reject_once</c> or <c>reject_always</c>.</param>
[GenerateSerializer, Immutable, Alias("AgentOs.PermissionOption")]
public sealed record PermissionOption([property: Id(0)] string OptionId, [property: Id(1)] string? Name, [property: Id(2)] string? Kind);

/// <summary>
/// An elicitation of the agent (ACP <c>elicitation/create</c>) waiting for <see cref="IVmGrain.RespondElicitation"/>: the agent asks
/// the user for input through a form (<see cref="Mode"/> <c>form</c>: fields described by <see cref="RequestedSchema"/>) or by
/// sending them to a URL (<c>url</c>: <see cref="Url"/>; the user gives what is asked there, not to the client).
/// </summary>
[GenerateSerializer, Immutable, Alias("AgentOs.PendingElicitation")]
public sealed record PendingElicitation
{
    /// <summary>The seq of the request's <c>elicitation/create</c> event: the id to answer it with.</summary>
    [Id(0)] public required long RequestId { get; init; }

    /// <summary><c>form</c>, <c>url</c>, or a mode newer than AgentOs (see <see cref="Params"/>).</summary>
    [Id(1)] public required string Mode { get; init; }

    /// <summary>What the agent asks for and why, for the user.</summary>
    [Id(2)] public required string Message { get; init; }

    /// <summary>For <c>form</c>: the restricted JSON Schema of the fields (<c>{ "type": "object", "properties", "required"? }</c>).</summary>
    [Id(3)] public string? RequestedSchema { get; init; }

    /// <summary>For <c>url</c>: where to send the user (show its host and ask before opening it).</summary>
    [Id(4)] public string? Url { get; init; }

    /// <summary>For <c>url</c>: the agent's id of the elicitation, which its <c>elicitation/complete</c> notification names.</summary>
    [Id(5)] public string? ElicitationId { get; init; }

    /// <summary>The tool call it belongs to, when the agent says.</summary>
    [Id(6)] public string? ToolCallId { get; init; }

    /// <summary>The request's ACP params as JSON.</summary>
    [Id(7)] public required string Params { get; init; }

    /// <summary>When the request arrived.</summary>
    [Id(8)] public DateTimeOffset RequestedAt { get; init; }

    /// <summary>When it will be cancelled if nobody answers.</summary>
    [Id(9)] public DateTimeOffset ExpiresAt { get; init; }
}

/// <summary>What the user did with an elicitation.</summary>
public enum ElicitationAction
{
    /// <summary>Gave the input (a form's fields in <see cref="ElicitationAnswer.ContentJson"/>; nothing for a URL).</summary>
    Accept = 0,

    /// <summary>Explicitly refused to give it.</summary>
    Decline = 1,

    /// <summary>Dismissed it without a choice.</summary>
    Cancel = 2,
}

/// <summary>A client's answer to an elicitation (<see cref="IVmGrain.RespondElicitation"/>).</summary>
[GenerateSerializer, Immutable, Alias("AgentOs.ElicitationAnswer")]
public sealed record ElicitationAnswer
{
    [Id(0)] public required ElicitationAction Action { get; init; }

    /// <summary>With <see cref="ElicitationAction.Accept"/> of a form: a JSON object of the form's fields (strings, numbers, booleans, arrays of strings).</summary>
    [Id(1)] public string? ContentJson { get; init; }

    /// <summary>Accepts a form with <paramref name="content"/> (field name → string, number, boolean or string array), or a URL elicitation with none.</summary>
    public static ElicitationAnswer Accept(IReadOnlyDictionary<string, object?>? content = null) =>
        new() { Action = ElicitationAction.Accept, ContentJson = content is null ? null : System.Text.Json.JsonSerializer.Serialize(content) };

    /// <summary>Accepts a form with its fields as a JSON object.</summary>
    public static ElicitationAnswer AcceptJson(string contentJson) => new() { Action = ElicitationAction.Accept, ContentJson = contentJson };

    /// <summary>The user refused.</summary>
    public static ElicitationAnswer Decline() => new() { Action = ElicitationAction.Decline };

    /// <summary>The user dismissed it.</summary>
    public static ElicitationAnswer Cancel() => new() { Action = ElicitationAction.Cancel };
}

/// <summary>An MCP server: local (<see cref="Command"/>) or remote (<see cref="Url"/>).</summary>
[GenerateSerializer, Immutable, Alias("AgentOs.McpServerConfig")]
public sealed record McpServerConfig
{
    [Id(0)] public required string Name { get; init; }
    [Id(1)] public string? Command { get; init; }
    [Id(2)] public IReadOnlyList<string>? Args { get; init; }
    [Id(3)] public IReadOnlyDictionary<string, string>? Env { get; init; }
    [Id(4)] public string? Url { get; init; }
    [Id(5)] public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary><c>http</c> (default) or <c>sse</c> for remote servers.</summary>
    [Id(6)] public string? Transport { get; init; }
}

/// <summary>What <see cref="IVmGrain.CreateSession"/> returns.</summary>
[GenerateSerializer, Immutable, Alias("AgentOs.SessionInfo")]
public sealed record SessionInfo
{
    /// <summary>The server-assigned session id; stable across resume.</summary>
    [Id(0)] public required string SessionId { get; init; }
    [Id(1)] public required string AgentType { get; init; }
    [Id(2)] public required AgentCapabilities Capabilities { get; init; }
    [Id(3)] public AgentInfo? AgentInfo { get; init; }
    [Id(4)] public SessionModes? Modes { get; init; }
    [Id(5)] public IReadOnlyList<ConfigOption> ConfigOptions { get; init; } = [];
    [Id(6)] public SessionModels? Models { get; init; }

    /// <summary>The agent's own ACP session id.</summary>
    [Id(7)] public string? AcpSessionId { get; init; }

    /// <summary>The agent's process id (host pid).</summary>
    [Id(8)] public int ProcessId { get; init; }
}

/// <summary>What the agent advertised in <c>initialize</c>; <see cref="Json"/> keeps everything, known or not.</summary>
[GenerateSerializer, Immutable, Alias("AgentOs.AgentCapabilities")]
public sealed record AgentCapabilities
{
    [Id(0)] public bool LoadSession { get; init; }
    [Id(1)] public bool PromptImage { get; init; }
    [Id(2)] public bool PromptAudio { get; init; }
    [Id(3)] public bool PromptEmbeddedContext { get; init; }
    [Id(4)] public bool McpHttp { get; init; }
    [Id(5)] public bool McpSse { get; init; }
    [Id(6)] public bool SessionResume { get; init; }

    /// <summary>The raw <c>agentCapabilities</c> JSON.</summary>
    [Id(7)] public string Json { get; init; } = "{}";
}

[GenerateSerializer, Immutable, Alias("AgentOs.AgentInfo")]
public sealed record AgentInfo([property: Id(0)] string Name, [property: Id(1)] string? Title, [property: Id(2)] string? Version);

[GenerateSerializer, Immutable, Alias("AgentOs.SessionModes")]
public sealed record SessionModes([property: Id(0)] string CurrentModeId, [property: Id(1)] IReadOnlyList<SessionMode> AvailableModes);

[GenerateSerializer, Immutable, Alias("AgentOs.SessionMode")]
public sealed record SessionMode([property: Id(0)] string Id, [property: Id(1)] string? Name, [property: Id(2)] string? Description);

[GenerateSerializer, Immutable, Alias("AgentOs.SessionModels")]
public sealed record SessionModels([property: Id(0)] string? CurrentModelId, [property: Id(1)] IReadOnlyList<ModelInfo> AvailableModels);

[GenerateSerializer, Immutable, Alias("AgentOs.ModelInfo")]
public sealed record ModelInfo([property: Id(0)] string ModelId, [property: Id(1)] string? Name, [property: Id(2)] string? Description);

/// <summary>A runtime setting the agent offers (<see cref="Category"/>: mode, model, thought_level, …).</summary>
[GenerateSerializer, Immutable, Alias("AgentOs.ConfigOption")]
public sealed record ConfigOption
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public string? Name { get; init; }
    [Id(2)] public string? Category { get; init; }
    [Id(3)] public string? Type { get; init; }
    [Id(4)] public string? CurrentValue { get; init; }
    [Id(5)] public IReadOnlyList<ConfigOptionValue> Options { get; init; } = [];
}

[GenerateSerializer, Immutable, Alias("AgentOs.ConfigOptionValue")]
public sealed record ConfigOptionValue([property: Id(0)] string Value, [property: Id(1)] string? Name, [property: Id(2)] string? Description);

/// <summary>What a prompt content block is (ACP <c>ContentBlock</c>'s <c>type</c>).</summary>
public enum PromptContentKind
{
    /// <summary><see cref="PromptContent.Text"/>.</summary>
    Text,

    /// <summary><see cref="PromptContent.Data"/> (base64) of <see cref="PromptContent.MimeType"/>; needs the agent's <c>promptCapabilities.image</c>.</summary>
    Image,

    /// <summary><see cref="PromptContent.Data"/> (base64) of <see cref="PromptContent.MimeType"/>; needs <c>promptCapabilities.audio</c>.</summary>
    Audio,

    /// <summary>A resource's content in the prompt: <see cref="PromptContent.Uri"/> with <see cref="PromptContent.Text"/> or <see cref="PromptContent.Data"/> (base64); needs <c>promptCapabilities.embeddedContext</c>.</summary>
    Resource,

    /// <summary>A link the agent reads itself: <see cref="PromptContent.Uri"/> and <see cref="PromptContent.Name"/>.</summary>
    ResourceLink,
}

/// <summary>One block of a prompt; make them with <see cref="FromText"/>, <see cref="Image"/>, <see cref="Audio"/>, <see cref="Resource"/>, <see cref="Link"/>.</summary>
[GenerateSerializer, Immutable, Alias("AgentOs.PromptContent")]
public sealed record PromptContent
{
    [Id(0)] public required PromptContentKind Kind { get; init; }
    [Id(1)] public string? Text { get; init; }

    /// <summary>Base64 (image, audio, a binary resource).</summary>
    [Id(2)] public string? Data { get; init; }
    [Id(3)] public string? MimeType { get; init; }
    [Id(4)] public string? Uri { get; init; }
    [Id(5)] public string? Name { get; init; }

    public static PromptContent FromText(string text) => new() { Kind = PromptContentKind.Text, Text = text };

    public static PromptContent Image(ReadOnlySpan<byte> bytes, string mimeType) => new() { Kind = PromptContentKind.Image, Data = Convert.ToBase64String(bytes), MimeType = mimeType };

    public static PromptContent Audio(ReadOnlySpan<byte> bytes, string mimeType) => new() { Kind = PromptContentKind.Audio, Data = Convert.ToBase64String(bytes), MimeType = mimeType };

    public static PromptContent Resource(string uri, string text, string? mimeType = null) => new() { Kind = PromptContentKind.Resource, Uri = uri, Text = text, MimeType = mimeType };

    public static PromptContent Link(string uri, string name, string? mimeType = null) => new() { Kind = PromptContentKind.ResourceLink, Uri = uri, Name = name, MimeType = mimeType };
}

/// <summary>The end of one prompt turn.</summary>
[GenerateSerializer, Immutable, Alias("AgentOs.PromptResult")]
public sealed record PromptResult
{
    /// <summary>ACP stop reason: end_turn, max_tokens, max_turn_requests, refusal, cancelled.</summary>
    [Id(0)] public required string StopReason { get; init; }

    /// <summary>The agent's message text of this turn.</summary>
    [Id(1)] public required string Text { get; init; }

    /// <summary>
    /// Seq of the turn's <c>_agentos/turn_end</c> event: every event of the turn has seq ≤ this. (A turn
    /// AgentOs ended because the agent ignored <c>session/cancel</c> is the exception: what the agent still
    /// sends after that comes after it.)
    /// </summary>
    [Id(2)] public long LastSeq { get; init; }

    /// <summary>The turn's tokens, when the agent reports them (ACP <c>usage</c> in its prompt answer); else null.</summary>
    [Id(3)] public TokenUsage? Usage { get; init; }
}

/// <summary>Tokens, as an agent reports them: of one turn (<see cref="PromptResult.Usage"/>) or summed over a session (<see cref="SessionUsage.Tokens"/>).</summary>
[GenerateSerializer, Immutable, Alias("AgentOs.TokenUsage")]
public sealed record TokenUsage
{
    [Id(0)] public long InputTokens { get; init; }
    [Id(1)] public long OutputTokens { get; init; }
    [Id(2)] public long TotalTokens { get; init; }
    [Id(3)] public long ThoughtTokens { get; init; }
    [Id(4)] public long CachedReadTokens { get; init; }
    [Id(5)] public long CachedWriteTokens { get; init; }
}

/// <summary>A session's use so far, from its transcript: tokens summed over its turns, and the agent's last <c>usage_update</c>.</summary>
[GenerateSerializer, Immutable, Alias("AgentOs.SessionUsage")]
public sealed record SessionUsage
{
    /// <summary>Tokens of every turn that reported them.</summary>
    [Id(0)] public TokenUsage Tokens { get; init; } = new();

    /// <summary>Turns that reported tokens.</summary>
    [Id(1)] public int TurnsWithUsage { get; init; }

    /// <summary>Tokens in the agent's context now (<c>usage_update.used</c>), when reported.</summary>
    [Id(2)] public long? ContextUsed { get; init; }

    /// <summary>The context window's size (<c>usage_update.size</c>), when reported.</summary>
    [Id(3)] public long? ContextSize { get; init; }

    /// <summary>The session's cost so far as the agent reports it (<c>usage_update.cost.amount</c>), when it does.</summary>
    [Id(4)] public double? Cost { get; init; }

    /// <summary>The cost's ISO 4217 currency (<c>usage_update.cost.currency</c>).</summary>
    [Id(5)] public string? CostCurrency { get; init; }
}

/// <summary>The status of a persisted session.</summary>
public enum SessionStatus
{
    /// <summary>Its agent is running.</summary>
    Active = 0,

    /// <summary>Its agent is not running (VM slept, server restarted); it can be resumed.</summary>
    Suspended = 1,

    /// <summary>Closed by a client; history kept.</summary>
    Closed = 2,

    /// <summary>The agent exited unexpectedly.</summary>
    Crashed = 3,

    /// <summary>Its agent is being started: <c>CreateSession</c> or a resume is in progress.</summary>
    Starting = 4,
}

/// <summary>A session as the VM's database records it.</summary>
[GenerateSerializer, Immutable, Alias("AgentOs.PersistedSession")]
public sealed record PersistedSession
{
    [Id(0)] public required string SessionId { get; init; }
    [Id(1)] public required string AgentType { get; init; }
    [Id(2)] public required DateTimeOffset CreatedAt { get; init; }
    [Id(3)] public SessionStatus Status { get; init; }
    [Id(4)] public long LastSeq { get; init; }
    [Id(5)] public string? Cwd { get; init; }
    [Id(6)] public string? AcpSessionId { get; init; }

    /// <summary>The session's title as the agent last set it (ACP <c>session_info_update</c>); null when it never did or cleared it.</summary>
    [Id(7)] public string? Title { get; init; }

    /// <summary>The session's use so far, as <see cref="IVmGrain.GetUsage"/> gives it.</summary>
    [Id(8)] public SessionUsage Usage { get; init; } = new();
}
