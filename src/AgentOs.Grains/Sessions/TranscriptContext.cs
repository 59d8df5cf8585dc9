using System.Text;
using System.Text.Json;
using AgentOs.Acp;

namespace AgentOs.Sessions;

/// <summary>
/// Draws a bounded text of the earlier conversation from a transcript, for agents that can neither
/// load nor resume a session: the user's prompts and the agent's replies, most recent kept.
/// </summary>
internal static class TranscriptContext
{
    public const int DefaultMaxChars = 16_000;

    public static string? Build(IReadOnlyList<SessionEvent> events, int maxChars = DefaultMaxChars)
    {
        var turns = new List<string>();
        StringBuilder? reply = null;
        foreach (var e in events)
        {
            switch (e.Method)
            {
                case AgentOsEventMethods.Prompt:
                    Flush();
                    turns.Add("User: " + PromptText(e.Params));
                    reply = new StringBuilder();
                    break;
                case AcpMethods.SessionUpdate when reply is not null:
                    AppendChunk(reply, e.Params);
                    break;
                case AgentOsEventMethods.TurnEnd:
                    Flush();
                    break;
            }
        }

        Flush();
        if (turns.Count == 0)
        {
            return null;
        }

        // Keep the most recent turns that fit.
        var kept = new LinkedList<string>();
        var length = 0;
        for (var i = turns.Count - 1; i >= 0 && length + turns[i].Length + 1 <= maxChars; i--)
        {
            kept.AddFirst(turns[i]);
            length += turns[i].Length + 1;
        }

        var omitted = turns.Count - kept.Count;
        var header = "[Context restored by AgentOs: the earlier conversation of this session" + (omitted > 0 ? $", {omitted} older messages omitted" : "") + "]";
        // Leading blank line: agents that concatenate text blocks keep the user's prompt intact.
        return "\n\n" + header + "\n" + string.Join('\n', kept) + "\n[End of restored context]";

        void Flush()
        {
            if (reply is { Length: > 0 })
            {
                turns.Add("Assistant: " + reply);
            }

            reply = null;
        }
    }

    private static string PromptText(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var text = new StringBuilder();
        if (doc.RootElement.TryGetProperty("prompt", out var blocks) && blocks.ValueKind == JsonValueKind.Array)
        {
            foreach (var block in blocks.EnumerateArray())
            {
                if (block.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String && !(t.GetString() ?? "").TrimStart().StartsWith("[Context restored by AgentOs", StringComparison.Ordinal))
                {
                    text.Append(t.GetString());
                }
            }
        }

        return text.ToString();
    }

    private static void AppendChunk(StringBuilder reply, string json)
    {
        if (SessionUpdateScan.Read(Encoding.UTF8.GetBytes(json), wantText: true) is { Kind: SessionUpdateKind.AgentMessageChunk, Text: { } text })
        {
            reply.Append(text);
        }
    }
}
