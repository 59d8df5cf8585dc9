using System.Text.Json;

namespace AgentOs.Client;

/// <summary>Reading common ACP shapes out of a <see cref="SessionEvent"/>.</summary>
public static class SessionEventExtensions
{
    /// <summary>For <c>session/update</c>: the update kind (<c>agent_message_chunk</c>, <c>tool_call</c>, …); else null.</summary>
    public static string? GetUpdateKind(this SessionEvent e)
    {
        if (e.Method != "session/update")
        {
            return null;
        }

        using var doc = JsonDocument.Parse(e.Params);
        return doc.RootElement.TryGetProperty("update", out var update) && update.TryGetProperty("sessionUpdate", out var kind) ? kind.GetString() : null;
    }

    /// <summary>The text of an <c>agent_message_chunk</c> or <c>agent_thought_chunk</c> update; else null.</summary>
    public static string? GetText(this SessionEvent e)
    {
        if (e.Method != "session/update")
        {
            return null;
        }

        using var doc = JsonDocument.Parse(e.Params);
        return doc.RootElement.TryGetProperty("update", out var update)
            && update.TryGetProperty("content", out var content)
            && content.ValueKind == JsonValueKind.Object
            && content.TryGetProperty("text", out var text)
            && text.ValueKind == JsonValueKind.String
                ? text.GetString()
                : null;
    }
}
