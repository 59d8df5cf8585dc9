using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace AgentOs.Events;

/// <summary>
/// How a file's content goes into the transcript: whole up to <see cref="MaxBytes"/> (UTF-8), else its first
/// <see cref="MaxBytes"/>, with the whole content's size and SHA-256 (<c>contentBytes</c>, <c>contentSha256</c>,
/// <c>contentTruncated: true</c>). The agent itself gets the whole file; the transcript stays readable however large
/// the files an agent reads or writes through fs/*.
/// </summary>
internal static class RecordedFile
{
    /// <summary>The most of one file's content one event keeps.</summary>
    public const int MaxBytes = 64 * 1024;

    /// <summary>True when <paramref name="content"/> is recorded whole.</summary>
    public static bool FitsWhole(string content) => content.Length <= MaxBytes / 3 || Encoding.UTF8.GetByteCount(content) <= MaxBytes;

    /// <summary>
    /// The params to record for an agent's request: as sent, except an fs/write_text_file whose content is too large,
    /// recorded with that content bounded by <see cref="Write"/>.
    /// </summary>
    public static string Request(string method, JsonElement @params, string paramsJson)
    {
        if (method != AgentOs.Acp.AcpMethods.FsWriteTextFile || paramsJson.Length <= MaxBytes / 3 ||
            @params.ValueKind != JsonValueKind.Object || !@params.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
        {
            return paramsJson;
        }

        var text = content.GetString()!;
        if (FitsWhole(text))
        {
            return paramsJson;
        }

        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var property in @params.EnumerateObject().Where(p => p.Name != "content"))
            {
                property.WriteTo(w);
            }

            Write(w, text);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Writes <c>content</c> (bounded) and, when cut, <c>contentBytes</c>, <c>contentSha256</c>, <c>contentTruncated</c>.</summary>
    public static void Write(Utf8JsonWriter w, string content)
    {
        if (FitsWhole(content))
        {
            w.WriteString("content", content);
            return;
        }

        var bytes = Encoding.UTF8.GetBytes(content);
        w.WriteString("content", Utf8Prefix(bytes, MaxBytes));
        w.WriteNumber("contentBytes", bytes.Length);
        w.WriteString("contentSha256", Convert.ToHexStringLower(SHA256.HashData(bytes)));
        w.WriteBoolean("contentTruncated", true);
    }

    /// <summary>
    /// Writes <paramref name="name"/> with <paramref name="text"/>'s last <see cref="MaxBytes"/> at most (a terminal's output:
    /// its end is what tells), and, when cut, <c>{name}Bytes</c>, <c>{name}Sha256</c>, <c>{name}Truncated: true</c>.
    /// </summary>
    public static void WriteTail(Utf8JsonWriter w, string name, string text)
    {
        if (FitsWhole(text))
        {
            w.WriteString(name, text);
            return;
        }

        var bytes = Encoding.UTF8.GetBytes(text);
        var cut = bytes.Length - MaxBytes;
        while (cut < bytes.Length && (bytes[cut] & 0xC0) == 0x80)
        {
            cut++; // not inside a UTF-8 sequence
        }

        w.WriteString(name, Encoding.UTF8.GetString(bytes.AsSpan(cut)));
        w.WriteNumber(name + "Bytes", bytes.Length);
        w.WriteString(name + "Sha256", Convert.ToHexStringLower(SHA256.HashData(bytes)));
        w.WriteBoolean(name + "Truncated", true);
    }

    /// <summary>The first <paramref name="max"/> bytes at most of UTF-8 <paramref name="bytes"/>, cut where no character is split.</summary>
    public static string Utf8Prefix(ReadOnlySpan<byte> bytes, int max)
    {
        if (bytes.Length <= max)
        {
            return Encoding.UTF8.GetString(bytes);
        }

        var cut = max;
        while (cut > 0 && (bytes[cut] & 0xC0) == 0x80)
        {
            cut--; // not inside a UTF-8 sequence
        }

        return Encoding.UTF8.GetString(bytes[..cut]);
    }
}
