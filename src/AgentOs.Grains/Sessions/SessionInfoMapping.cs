using System.Text.Json;
using AgentOs.Acp;

namespace AgentOs.Sessions;

/// <summary>Turns the agent's ACP answers into the <see cref="SessionInfo"/> contract.</summary>
internal static class SessionInfoMapping
{
    public static SessionInfo Create(string sessionId, string agentType, string acpSessionId, int pid, InitializeResponse init, SessionSetupResponse setup)
    {
        var caps = init.AgentCapabilities;
        return new SessionInfo
        {
            SessionId = sessionId,
            AgentType = agentType,
            AcpSessionId = acpSessionId,
            ProcessId = pid,
            Capabilities = new AgentCapabilities
            {
                LoadSession = caps?.LoadSession ?? false,
                PromptImage = caps?.PromptCapabilities?.Image ?? false,
                PromptAudio = caps?.PromptCapabilities?.Audio ?? false,
                PromptEmbeddedContext = caps?.PromptCapabilities?.EmbeddedContext ?? false,
                McpHttp = caps?.McpCapabilities?.Http ?? false,
                McpSse = caps?.McpCapabilities?.Sse ?? false,
                SessionResume = caps?.CanResume == true,
                Json = caps is null ? "{}" : JsonSerializer.Serialize(caps, AcpJsonContext.Default.AgentCapabilitiesWire),
            },
            AgentInfo = init.AgentInfo is { } info ? new AgentInfo(info.Name, info.Title, info.Version) : null,
            Modes = setup.Modes is { } modes
                ? new SessionModes(modes.CurrentModeId, modes.AvailableModes.Select(m => new SessionMode(m.Id, m.Name, m.Description)).ToList())
                : null,
            Models = setup.Models is { } models
                ? new SessionModels(models.CurrentModelId, models.AvailableModels.Select(m => new ModelInfo(m.ModelId, m.Name, m.Description)).ToList())
                : null,
            ConfigOptions = (setup.ConfigOptions ?? []).Select(ToConfigOption).ToList(),
        };
    }

    public static ConfigOption ToConfigOption(ConfigOptionWire option) => new()
    {
        Id = option.Id,
        Name = option.Name,
        Category = option.Category,
        Type = option.Type,
        CurrentValue = AsText(option.CurrentValue),
        Options = (option.Options ?? []).Select(o => new ConfigOptionValue(AsText(o.Value) ?? "", o.Name, o.Description)).ToList(),
    };

    private static string? AsText(JsonElement? value) => value?.ValueKind switch
    {
        JsonValueKind.String => value.Value.GetString(),
        null or JsonValueKind.Undefined or JsonValueKind.Null => null,
        _ => value.Value.GetRawText(),
    };
}
