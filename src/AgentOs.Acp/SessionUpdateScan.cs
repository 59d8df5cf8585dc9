using System.Text.Json;

namespace AgentOs.Acp;

/// <summary>What a <c>session/update</c> is, as far as a host acts on it while it streams.</summary>
public enum SessionUpdateKind
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

/// <summary>The update kind and, for an <c>agent_message_chunk</c>, its text.</summary>
public readonly record struct SessionUpdateInfo(SessionUpdateKind Kind, string? Text);

/// <summary>
/// The one reader of <c>session/update</c> params: <c>update.sessionUpdate</c> and
/// <c>update.content.text</c> in one forward pass over the UTF-8 bytes, without building a
/// document. Hundreds of thousands of chunks a second pass through <see cref="Read"/>, which
/// allocates nothing but the text it is asked for.
/// </summary>
/// <remarks>
/// Like a document lookup, the last of duplicate members wins; members are matched after
/// unescaping; anything that is not an object of the expected shape reads as no update.
/// </remarks>
public static class SessionUpdateScan
{
    /// <summary>The update kinds of the stable schema, so <see cref="ReadKind"/> returns shared strings for them.</summary>
    private static readonly string[] KnownKinds =
    [
        "agent_message_chunk", "agent_thought_chunk", "user_message_chunk", "tool_call", "tool_call_update", "plan",
        "available_commands_update", "current_mode_update", "config_option_update", "session_info_update", "usage_update",
    ];

    private static readonly byte[][] KnownKindsUtf8 = [.. KnownKinds.Select(System.Text.Encoding.UTF8.GetBytes)];

    /// <summary>The kind, and the text of an <c>agent_message_chunk</c>: what the session runtime needs of every update.</summary>
    /// <param name="paramsUtf8">The params JSON.</param>
    /// <param name="wantText">Whether to decode <c>content.text</c> (only while a turn collects its reply).</param>
    public static SessionUpdateInfo Read(ReadOnlySpan<byte> paramsUtf8, bool wantText)
    {
        var found = Scan(paramsUtf8, wantText ? Want.Text : Want.None);
        return new SessionUpdateInfo(found.Kind, found.Kind == SessionUpdateKind.AgentMessageChunk ? found.Text : null);
    }

    /// <summary>
    /// <c>update.sessionUpdate</c> as the agent wrote it, for any kind (<c>agent_message_chunk</c>,
    /// <c>tool_call</c>, a kind newer than this library, …); null when there is none.
    /// </summary>
    public static string? ReadKind(ReadOnlySpan<byte> paramsUtf8) => Scan(paramsUtf8, Want.Name).Name;

    /// <summary>
    /// The <c>content.text</c> of a content chunk (<c>agent_message_chunk</c>, <c>agent_thought_chunk</c>,
    /// or <c>user_message_chunk</c> as agents replay it); null for other kinds and non-text content.
    /// </summary>
    public static string? ReadChunkText(ReadOnlySpan<byte> paramsUtf8)
    {
        var found = Scan(paramsUtf8, Want.Text | Want.Chunk);
        return found.IsChunk ? found.Text : null;
    }

    [Flags]
    private enum Want
    {
        None = 0,
        Text = 1,
        Name = 2,
        Chunk = 4,
    }

    private readonly record struct Found(SessionUpdateKind Kind, bool IsChunk, string? Name, string? Text);

    private static Found Scan(ReadOnlySpan<byte> paramsUtf8, Want want)
    {
        try
        {
            var reader = new Utf8JsonReader(paramsUtf8);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return default;
            }

            Found found = default;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isUpdate = reader.ValueTextEquals("update"u8);
                reader.Read();
                if (isUpdate && reader.TokenType == JsonTokenType.StartObject)
                {
                    found = ReadUpdate(ref reader, want); // the last "update" wins, as in a document
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
    private static Found ReadUpdate(ref Utf8JsonReader reader, Want want)
    {
        var kind = SessionUpdateKind.None;
        var isChunk = false;
        string? name = null;
        string? text = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("sessionUpdate"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                {
                    (kind, isChunk, name) = (SessionUpdateKind.None, false, null);
                }
                else if (reader.ValueTextEquals("agent_message_chunk"u8))
                {
                    // The hot path: one comparison, no allocation.
                    (kind, isChunk, name) = (SessionUpdateKind.AgentMessageChunk, true, (want & Want.Name) != 0 ? KnownKinds[0] : null);
                }
                else
                {
                    kind = reader.ValueTextEquals("current_mode_update"u8) || reader.ValueTextEquals("config_option_update"u8) ? SessionUpdateKind.Config : SessionUpdateKind.Other;
                    isChunk = (want & Want.Chunk) != 0 && (reader.ValueTextEquals("agent_thought_chunk"u8) || reader.ValueTextEquals("user_message_chunk"u8));
                    name = (want & Want.Name) != 0 ? KindName(ref reader) : null;
                }

                continue;
            }

            var isContent = reader.ValueTextEquals("content"u8);
            reader.Read();
            if (isContent && reader.TokenType == JsonTokenType.StartObject)
            {
                text = ReadContentText(ref reader, (want & Want.Text) != 0);
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

        return new Found(kind, isChunk, name, text);
    }

    /// <summary>The kind string the reader is at: a shared instance for a known kind, else a new string.</summary>
    private static string KindName(ref Utf8JsonReader reader)
    {
        for (var i = 0; i < KnownKindsUtf8.Length; i++)
        {
            if (reader.ValueTextEquals(KnownKindsUtf8[i]))
            {
                return KnownKinds[i];
            }
        }

        return reader.GetString()!;
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
