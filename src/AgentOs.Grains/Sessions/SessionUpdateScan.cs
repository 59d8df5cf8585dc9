using System.Text.Json;

namespace AgentOs.Sessions;

/// <summary>What a <c>session/update</c> is, as far as AgentOs acts on it.</summary>
internal enum SessionUpdateKind
{
    /// <summary>No <c>update.sessionUpdate</c> string (or not JSON).</summary>
    None,

    /// <summary><c>agent_message_chunk</c>: its text is the turn's reply.</summary>
    AgentMessageChunk,

    /// <summary><c>current_mode_update</c> or <c>config_option_update</c>: the session's configuration changed.</summary>
    Config,

    /// <summary>Any other kind.</summary>
    Other,
}

/// <summary>The update kind and, for a message chunk, its text.</summary>
internal readonly record struct SessionUpdateInfo(SessionUpdateKind Kind, string? Text);

/// <summary>
/// Reads <c>update.sessionUpdate</c> and <c>update.content.text</c> out of <c>session/update</c>
/// params in one forward pass over the UTF-8 bytes, without building a document: hundreds of
/// thousands of chunks a second pass through here, and AgentOs needs two values of each.
/// </summary>
internal static class SessionUpdateScan
{
    /// <param name="paramsUtf8">The params JSON.</param>
    /// <param name="wantText">Whether to decode <c>content.text</c> (only while a turn collects its reply).</param>
    public static SessionUpdateInfo Read(ReadOnlySpan<byte> paramsUtf8, bool wantText)
    {
        try
        {
            var reader = new Utf8JsonReader(paramsUtf8);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return default;
            }

            SessionUpdateInfo found = default;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isUpdate = reader.ValueTextEquals("update"u8);
                reader.Read();
                if (isUpdate && reader.TokenType == JsonTokenType.StartObject)
                {
                    found = ReadUpdate(ref reader, wantText); // the last "update" wins, as in a document
                }
                else
                {
                    reader.Skip();
                }
            }

            return found;
        }
        catch (JsonException)
        {
            return default;
        }
    }

    /// <summary>Reads the update object the reader is at, up to and including its end.</summary>
    private static SessionUpdateInfo ReadUpdate(ref Utf8JsonReader reader, bool wantText)
    {
        var kind = SessionUpdateKind.None;
        string? text = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("sessionUpdate"u8))
            {
                reader.Read();
                kind = reader.TokenType != JsonTokenType.String ? SessionUpdateKind.None
                    : reader.ValueTextEquals("agent_message_chunk"u8) ? SessionUpdateKind.AgentMessageChunk
                    : reader.ValueTextEquals("current_mode_update"u8) || reader.ValueTextEquals("config_option_update"u8) ? SessionUpdateKind.Config
                    : SessionUpdateKind.Other;
                continue;
            }

            var isContent = reader.ValueTextEquals("content"u8);
            reader.Read();
            if (isContent && reader.TokenType == JsonTokenType.StartObject)
            {
                text = ReadContentText(ref reader, wantText);
            }
            else
            {
                if (isContent)
                {
                    text = null;
                }

                reader.Skip();
            }
        }

        return new SessionUpdateInfo(kind, kind == SessionUpdateKind.AgentMessageChunk ? text : null);
    }

    /// <summary>The string <c>text</c> of the content object the reader is at (null when absent or not wanted).</summary>
    private static string? ReadContentText(ref Utf8JsonReader reader, bool wantText)
    {
        string? text = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isText = reader.ValueTextEquals("text"u8);
            reader.Read();
            if (isText)
            {
                text = wantText && reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }

            reader.Skip();
        }

        return text;
    }
}
