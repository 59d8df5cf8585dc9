using System.Text.Json;
using System.Text.Json.Serialization;

namespace AgentOs.Acp;

// ACP wire types (protocol version 1), the subset AgentOs sends and reads. Unknown members are
// ignored on read; where their content matters to callers the raw JSON is kept instead.

public sealed class InitializeRequest
{
    [JsonPropertyName("protocolVersion")] public required int ProtocolVersion { get; init; }
    [JsonPropertyName("clientCapabilities")] public required ClientCapabilities ClientCapabilities { get; init; }
    [JsonPropertyName("clientInfo")] public Implementation? ClientInfo { get; init; }
}

public sealed class ClientCapabilities
{
    [JsonPropertyName("fs")] public FileSystemCapability Fs { get; init; } = new();
    [JsonPropertyName("terminal")] public bool Terminal { get; init; }

    /// <summary>The elicitation modes the client answers (<c>elicitation/create</c>); null: none.</summary>
    [JsonPropertyName("elicitation")] public ElicitationCapabilities? Elicitation { get; init; }
}

/// <summary>Each mode present (as <c>{}</c>) is advertised; a null one is not.</summary>
public sealed class ElicitationCapabilities
{
    [JsonPropertyName("form")] public EmptyObject? Form { get; init; }
    [JsonPropertyName("url")] public EmptyObject? Url { get; init; }
}

public sealed class FileSystemCapability
{
    [JsonPropertyName("readTextFile")] public bool ReadTextFile { get; init; }
    [JsonPropertyName("writeTextFile")] public bool WriteTextFile { get; init; }
}

public sealed class Implementation
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("title")] public string? Title { get; init; }
    [JsonPropertyName("version")] public string? Version { get; init; }
}

public sealed class InitializeResponse
{
    [JsonPropertyName("protocolVersion")] public int ProtocolVersion { get; init; }
    [JsonPropertyName("agentCapabilities")] public AgentCapabilitiesWire? AgentCapabilities { get; init; }
    [JsonPropertyName("agentInfo")] public Implementation? AgentInfo { get; init; }
    [JsonPropertyName("authMethods"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public JsonElement? AuthMethods { get; init; }
}

public sealed class AgentCapabilitiesWire
{
    [JsonPropertyName("loadSession")] public bool LoadSession { get; init; }
    [JsonPropertyName("promptCapabilities")] public PromptCapabilitiesWire? PromptCapabilities { get; init; }
    [JsonPropertyName("mcpCapabilities")] public McpCapabilitiesWire? McpCapabilities { get; init; }
    [JsonPropertyName("sessionCapabilities"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public JsonElement? SessionCapabilities { get; init; }

    /// <summary>True when the agent advertises <c>sessionCapabilities.resume</c>.</summary>
    [JsonIgnore] public bool CanResume => Advertises("resume");

    /// <summary>True when the agent advertises <c>sessionCapabilities.close</c>.</summary>
    [JsonIgnore] public bool CanClose => Advertises("close");

    /// <summary>True when the agent advertises <c>sessionCapabilities.delete</c>.</summary>
    [JsonIgnore] public bool CanDelete => Advertises("delete");

    private bool Advertises(string method) => SessionCapabilities is { ValueKind: JsonValueKind.Object } session && session.TryGetProperty(method, out var value) && value.ValueKind != JsonValueKind.Null;
}

public sealed class PromptCapabilitiesWire
{
    [JsonPropertyName("image")] public bool Image { get; init; }
    [JsonPropertyName("audio")] public bool Audio { get; init; }
    [JsonPropertyName("embeddedContext")] public bool EmbeddedContext { get; init; }
}

public sealed class McpCapabilitiesWire
{
    [JsonPropertyName("http")] public bool Http { get; init; }
    [JsonPropertyName("sse")] public bool Sse { get; init; }
}

public sealed class NameValue
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("value")] public required string Value { get; init; }
}

/// <summary>An MCP server as ACP carries it: stdio (no <c>type</c>) or http/sse.</summary>
public sealed class McpServerWire
{
    [JsonPropertyName("type"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Type { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("command"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Command { get; init; }
    [JsonPropertyName("args"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<string>? Args { get; init; }
    [JsonPropertyName("env"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<NameValue>? Env { get; init; }
    [JsonPropertyName("url"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Url { get; init; }
    [JsonPropertyName("headers"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<NameValue>? Headers { get; init; }
}

public sealed class NewSessionRequest
{
    [JsonPropertyName("cwd")] public required string Cwd { get; init; }
    [JsonPropertyName("mcpServers")] public IReadOnlyList<McpServerWire> McpServers { get; init; } = [];
    /// <summary>Extension data, e.g. Claude Code's <c>systemPrompt</c>.</summary>
    [JsonPropertyName("_meta"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public JsonElement? Meta { get; init; }
}

public sealed class LoadSessionRequest
{
    [JsonPropertyName("sessionId")] public required string SessionId { get; init; }
    [JsonPropertyName("cwd")] public required string Cwd { get; init; }
    [JsonPropertyName("mcpServers")] public IReadOnlyList<McpServerWire> McpServers { get; init; } = [];
    /// <summary>Extension data, e.g. Claude Code's <c>systemPrompt</c>.</summary>
    [JsonPropertyName("_meta"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public JsonElement? Meta { get; init; }
}

/// <summary>ACP <c>session/resume</c> (an unstable capability under <c>sessionCapabilities.resume</c>).</summary>
public sealed class ResumeSessionRequest
{
    [JsonPropertyName("sessionId")] public required string SessionId { get; init; }
    [JsonPropertyName("cwd")] public required string Cwd { get; init; }
    [JsonPropertyName("mcpServers")] public IReadOnlyList<McpServerWire> McpServers { get; init; } = [];
    /// <summary>Extension data, e.g. Claude Code's <c>systemPrompt</c>.</summary>
    [JsonPropertyName("_meta"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public JsonElement? Meta { get; init; }
}

/// <summary>The reply to session/new, session/load and session/resume.</summary>
public sealed class SessionSetupResponse
{
    [JsonPropertyName("sessionId")] public string? SessionId { get; init; }
    [JsonPropertyName("modes")] public SessionModeStateWire? Modes { get; init; }
    [JsonPropertyName("models")] public SessionModelStateWire? Models { get; init; }
    [JsonPropertyName("configOptions")] public IReadOnlyList<ConfigOptionWire>? ConfigOptions { get; init; }
}

public sealed class SessionModeStateWire
{
    [JsonPropertyName("currentModeId")] public required string CurrentModeId { get; init; }
    [JsonPropertyName("availableModes")] public IReadOnlyList<SessionModeWire> AvailableModes { get; init; } = [];
}

public sealed class SessionModeWire
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
}

public sealed class SessionModelStateWire
{
    [JsonPropertyName("currentModelId")] public string? CurrentModelId { get; init; }
    [JsonPropertyName("availableModels")] public IReadOnlyList<ModelInfoWire> AvailableModels { get; init; } = [];
}

public sealed class ModelInfoWire
{
    [JsonPropertyName("modelId")] public required string ModelId { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
}

public sealed class ConfigOptionWire
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("category")] public string? Category { get; init; }
    [JsonPropertyName("type")] public string? Type { get; init; }
    [JsonPropertyName("currentValue"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public JsonElement? CurrentValue { get; init; }
    [JsonPropertyName("options")] public IReadOnlyList<ConfigOptionValueWire>? Options { get; init; }
}

public sealed class ConfigOptionValueWire
{
    [JsonPropertyName("value"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public JsonElement? Value { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
}

/// <summary>A prompt content block (ACP <c>ContentBlock</c>).</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(TextContentBlock), "text")]
[JsonDerivedType(typeof(ImageContentBlock), "image")]
[JsonDerivedType(typeof(AudioContentBlock), "audio")]
[JsonDerivedType(typeof(EmbeddedResourceContentBlock), "resource")]
[JsonDerivedType(typeof(ResourceLinkContentBlock), "resource_link")]
public abstract class ContentBlock;

public sealed class TextContentBlock : ContentBlock
{
    [JsonPropertyName("text")] public required string Text { get; init; }
}

/// <summary>An image, base64 (needs <c>promptCapabilities.image</c>).</summary>
public sealed class ImageContentBlock : ContentBlock
{
    [JsonPropertyName("data")] public required string Data { get; init; }
    [JsonPropertyName("mimeType")] public required string MimeType { get; init; }
    [JsonPropertyName("uri"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Uri { get; init; }
}

/// <summary>Audio, base64 (needs <c>promptCapabilities.audio</c>).</summary>
public sealed class AudioContentBlock : ContentBlock
{
    [JsonPropertyName("data")] public required string Data { get; init; }
    [JsonPropertyName("mimeType")] public required string MimeType { get; init; }
}

/// <summary>A resource's content in the prompt (needs <c>promptCapabilities.embeddedContext</c>).</summary>
public sealed class EmbeddedResourceContentBlock : ContentBlock
{
    [JsonPropertyName("resource")] public required EmbeddedResourceWire Resource { get; init; }
}

/// <summary>ACP's text or blob resource contents: <c>text</c> or <c>blob</c> (base64), with the resource's <c>uri</c>.</summary>
public sealed class EmbeddedResourceWire
{
    [JsonPropertyName("uri")] public required string Uri { get; init; }
    [JsonPropertyName("text"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Text { get; init; }
    [JsonPropertyName("blob"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Blob { get; init; }
    [JsonPropertyName("mimeType"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? MimeType { get; init; }
}

/// <summary>A link to a resource the agent can read itself (every agent takes it).</summary>
public sealed class ResourceLinkContentBlock : ContentBlock
{
    [JsonPropertyName("uri")] public required string Uri { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("mimeType"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? MimeType { get; init; }
}

public sealed class PromptRequest
{
    [JsonPropertyName("sessionId")] public required string SessionId { get; init; }
    [JsonPropertyName("prompt")] public required IReadOnlyList<ContentBlock> Prompt { get; init; }
}

public sealed class PromptResponse
{
    [JsonPropertyName("stopReason")] public string? StopReason { get; init; }

    /// <summary>The turn's token use (ACP's unstable <c>usage</c>), when the agent reports it.</summary>
    [JsonPropertyName("usage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public UsageWire? Usage { get; init; }
}

/// <summary>ACP <c>Usage</c>: tokens of one turn.</summary>
public sealed class UsageWire
{
    [JsonPropertyName("inputTokens")] public long InputTokens { get; init; }
    [JsonPropertyName("outputTokens")] public long OutputTokens { get; init; }
    [JsonPropertyName("totalTokens")] public long TotalTokens { get; init; }
    [JsonPropertyName("thoughtTokens"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? ThoughtTokens { get; init; }
    [JsonPropertyName("cachedReadTokens"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? CachedReadTokens { get; init; }
    [JsonPropertyName("cachedWriteTokens"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? CachedWriteTokens { get; init; }
}

public sealed class SessionIdParams
{
    [JsonPropertyName("sessionId")] public required string SessionId { get; init; }
}

public sealed class SetModeRequest
{
    [JsonPropertyName("sessionId")] public required string SessionId { get; init; }
    [JsonPropertyName("modeId")] public required string ModeId { get; init; }
}

public sealed class SetModelRequest
{
    [JsonPropertyName("sessionId")] public required string SessionId { get; init; }
    [JsonPropertyName("modelId")] public required string ModelId { get; init; }
}

/// <summary>The answer to <c>session/set_mode</c>: nothing but extension data.</summary>
public sealed class SetModeResponse
{
    [JsonPropertyName("_meta"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public JsonElement? Meta { get; init; }
}

/// <summary>The answer to <c>session/set_model</c>: nothing but extension data.</summary>
public sealed class SetModelResponse
{
    [JsonPropertyName("_meta"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public JsonElement? Meta { get; init; }
}

/// <summary>ACP <c>session/close</c> and <c>session/delete</c> (each only when the agent advertises it in <c>sessionCapabilities</c>).</summary>
public sealed class CloseSessionRequest
{
    [JsonPropertyName("sessionId")] public required string SessionId { get; init; }
}

/// <summary>The answer to <c>session/close</c> or <c>session/delete</c>: nothing but extension data.</summary>
public sealed class CloseSessionResponse
{
    [JsonPropertyName("_meta"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public JsonElement? Meta { get; init; }
}

public sealed class SetConfigOptionRequest
{
    [JsonPropertyName("sessionId")] public required string SessionId { get; init; }
    [JsonPropertyName("configId")] public required string ConfigId { get; init; }
    [JsonPropertyName("value")] public required string Value { get; init; }
}

/// <summary>
/// A full list of config options: the reply to <c>session/set_config_option</c>, and the
/// <c>config_option_update</c> session update.
/// </summary>
public sealed class ConfigOptionsPayload
{
    [JsonPropertyName("configOptions")] public IReadOnlyList<ConfigOptionWire>? ConfigOptions { get; init; }
}

public sealed class PermissionOptionWire
{
    [JsonPropertyName("optionId")] public required string OptionId { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("kind")] public string? Kind { get; init; }
}

public sealed class RequestPermissionRequest
{
    [JsonPropertyName("sessionId")] public string? SessionId { get; init; }
    [JsonPropertyName("toolCall"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public JsonElement? ToolCall { get; init; }
    [JsonPropertyName("options")] public IReadOnlyList<PermissionOptionWire> Options { get; init; } = [];
}

public sealed class RequestPermissionResponse
{
    [JsonPropertyName("outcome")] public required PermissionOutcome Outcome { get; init; }
}

public sealed class PermissionOutcome
{
    /// <summary><c>selected</c> or <c>cancelled</c>.</summary>
    [JsonPropertyName("outcome")] public required string Outcome { get; init; }
    [JsonPropertyName("optionId"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? OptionId { get; init; }
}

public sealed class ReadTextFileRequest
{
    [JsonPropertyName("sessionId")] public string? SessionId { get; init; }
    [JsonPropertyName("path")] public required string Path { get; init; }
    [JsonPropertyName("line")] public int? Line { get; init; }
    [JsonPropertyName("limit")] public int? Limit { get; init; }
}

public sealed class ReadTextFileResponse
{
    [JsonPropertyName("content")] public required string Content { get; init; }
}

public sealed class WriteTextFileRequest
{
    [JsonPropertyName("sessionId")] public string? SessionId { get; init; }
    [JsonPropertyName("path")] public required string Path { get; init; }
    [JsonPropertyName("content")] public required string Content { get; init; }
}

public sealed class EmptyObject;

/// <summary>An environment variable of a terminal (<c>terminal/create</c>'s <c>env</c>).</summary>
public sealed class EnvVariableWire
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("value")] public required string Value { get; init; }
}

public sealed class CreateTerminalRequest
{
    [JsonPropertyName("sessionId")] public string? SessionId { get; init; }

    /// <summary>The command: an executable with <see cref="Args"/>, or, without them, a shell command line.</summary>
    [JsonPropertyName("command")] public required string Command { get; init; }
    [JsonPropertyName("args")] public IReadOnlyList<string>? Args { get; init; }
    [JsonPropertyName("env")] public IReadOnlyList<EnvVariableWire>? Env { get; init; }
    [JsonPropertyName("cwd")] public string? Cwd { get; init; }
    [JsonPropertyName("outputByteLimit")] public ulong? OutputByteLimit { get; init; }
}

public sealed class CreateTerminalResponse
{
    [JsonPropertyName("terminalId")] public required string TerminalId { get; init; }
}

/// <summary>The params of <c>terminal/output</c>, <c>terminal/wait_for_exit</c>, <c>terminal/kill</c> and <c>terminal/release</c>.</summary>
public sealed class TerminalRequest
{
    [JsonPropertyName("sessionId")] public string? SessionId { get; init; }
    [JsonPropertyName("terminalId")] public required string TerminalId { get; init; }
}

/// <summary>How a terminal's command ended: its exit code, or the signal that ended it. Also <c>terminal/wait_for_exit</c>'s answer.</summary>
public sealed class TerminalExitStatus
{
    [JsonPropertyName("exitCode")] public uint? ExitCode { get; init; }
    [JsonPropertyName("signal")] public string? Signal { get; init; }
}

public sealed class TerminalOutputResponse
{
    [JsonPropertyName("output")] public required string Output { get; init; }
    [JsonPropertyName("truncated")] public required bool Truncated { get; init; }
    [JsonPropertyName("exitStatus")] public TerminalExitStatus? ExitStatus { get; init; }
}

public sealed class AcpErrorObject
{
    [JsonPropertyName("code")] public int Code { get; init; }
    [JsonPropertyName("message")] public string Message { get; init; } = "";
}

/// <summary>The one source-generated serializer context for ACP wire types.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(InitializeRequest))]
[JsonSerializable(typeof(InitializeResponse))]
[JsonSerializable(typeof(AgentCapabilitiesWire))]
[JsonSerializable(typeof(Implementation))]
[JsonSerializable(typeof(NewSessionRequest))]
[JsonSerializable(typeof(LoadSessionRequest))]
[JsonSerializable(typeof(ResumeSessionRequest))]
[JsonSerializable(typeof(SessionSetupResponse))]
[JsonSerializable(typeof(PromptRequest))]
[JsonSerializable(typeof(PromptResponse))]
[JsonSerializable(typeof(UsageWire))]
[JsonSerializable(typeof(SessionIdParams))]
[JsonSerializable(typeof(SetModeRequest))]
[JsonSerializable(typeof(SetModelRequest))]
[JsonSerializable(typeof(SetModeResponse))]
[JsonSerializable(typeof(SetModelResponse))]
[JsonSerializable(typeof(SetConfigOptionRequest))]
[JsonSerializable(typeof(CloseSessionRequest))]
[JsonSerializable(typeof(CloseSessionResponse))]
[JsonSerializable(typeof(ConfigOptionsPayload))]
[JsonSerializable(typeof(RequestPermissionRequest))]
[JsonSerializable(typeof(RequestPermissionResponse))]
[JsonSerializable(typeof(ReadTextFileRequest))]
[JsonSerializable(typeof(ReadTextFileResponse))]
[JsonSerializable(typeof(WriteTextFileRequest))]
[JsonSerializable(typeof(EmptyObject))]
[JsonSerializable(typeof(CreateTerminalRequest))]
[JsonSerializable(typeof(CreateTerminalResponse))]
[JsonSerializable(typeof(TerminalRequest))]
[JsonSerializable(typeof(TerminalExitStatus))]
[JsonSerializable(typeof(TerminalOutputResponse))]
[JsonSerializable(typeof(AcpErrorObject))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(string))]
public sealed partial class AcpJsonContext : JsonSerializerContext;
