using System.Buffers;
using System.Text;
using System.Text.Json;

namespace AgentOs.Acp;

/// <summary>
/// The read side of <see cref="AcpConnection"/>: one line of the agent's stdout becomes a response, a
/// request or a notification. Notifications, nearly all the traffic, are read for their envelope only
/// and handed on with their params as the agent's UTF-8 bytes.
/// </summary>
public sealed partial class AcpConnection
{
    private byte[] _scratch = [];
    private string? _lastMethod;
    private byte[] _lastMethodUtf8 = [];

    private async ValueTask ProcessLineAsync(ReadOnlySequence<byte> line)
    {
        line = TrimWhitespace(line);
        if (line.IsEmpty)
        {
            return;
        }

        if (line.Length > _options.MaxLineBytes)
        {
            ReportMalformed(Preview(line), $"line longer than {_options.MaxLineBytes} bytes");
            return;
        }

        // The common line by far is a notification: read only its envelope and hand its params on as
        // the bytes it came in. Anything else (requests, responses, odd or broken lines) takes the
        // general path below, which builds a document and reports problems.
        var bytes = line.IsSingleSegment ? line.First : CopyToScratch(line);
        if (TryReadNotificationEnvelope(bytes.Span, out var notificationMethod, out var paramsStart, out var paramsLength))
        {
            await DeliverNotificationAsync(notificationMethod, new AcpIncomingMessage(notificationMethod, bytes.Slice(paramsStart, paramsLength))).ConfigureAwait(false);
            return;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException ex)
        {
            ReportMalformed(Preview(line), "not JSON: " + ex.Message);
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                ReportMalformed(Preview(line), "not a JSON object");
                return;
            }

            var method = root.GetStringOrNull("method");
            var idPresent = root.TryGetProperty("id"u8, out var id);
            // A request may carry "id": null (JSON-RPC allows it); a response needs a real id.
            var hasId = idPresent && (id.ValueKind is JsonValueKind.Number or JsonValueKind.String || (method is not null && id.ValueKind == JsonValueKind.Null));
            if (!root.TryGetProperty("params"u8, out var parameters))
            {
                parameters = default;
            }

            if (method is not null && hasId)
            {
                DispatchRequest(method, parameters.ValueKind == JsonValueKind.Undefined ? default : parameters.Clone(), id.Clone());
            }
            else if (method is not null)
            {
                await DeliverNotificationAsync(method, new AcpIncomingMessage(method, parameters, null)).ConfigureAwait(false);
            }
            else if (hasId)
            {
                CompleteRequest(root, id);
            }
            else
            {
                ReportMalformed(Preview(line), "neither a request, a notification nor a response");
            }
        }
    }

    private async ValueTask DeliverNotificationAsync(string method, AcpIncomingMessage notification)
    {
        try
        {
            var pending = _handler.OnNotificationAsync(notification);
            if (!pending.IsCompletedSuccessfully)
            {
                await pending.ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            LogHandlerFailed(_logger, _options.Name, method, ex);
        }
    }

    /// <summary>A line split across buffer segments, made contiguous; valid until the next line.</summary>
    private ReadOnlyMemory<byte> CopyToScratch(ReadOnlySequence<byte> line)
    {
        if (_scratch.Length < line.Length)
        {
            _scratch = new byte[Math.Max(line.Length, _scratch.Length * 2L)];
        }

        line.CopyTo(_scratch);
        return _scratch.AsMemory(0, (int)line.Length);
    }

    /// <summary>
    /// Reads a line as a notification envelope: a JSON object with a string <c>method</c>, no
    /// <c>id</c>, and any <c>params</c>, whose byte range is returned (empty when absent). The whole
    /// line is still checked to be well-formed JSON. False for anything else, including a request,
    /// a response or a broken line: the general path handles and reports those.
    /// </summary>
    internal bool TryReadNotificationEnvelope(ReadOnlySpan<byte> line, out string method, out int paramsStart, out int paramsLength)
    {
        method = "";
        paramsStart = 0;
        paramsLength = 0;
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        string? found = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    return false; // a request or a response
                }

                if (reader.ValueTextEquals("method"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        return false;
                    }

                    found = MethodString(ref reader);
                    continue;
                }

                var isParams = reader.ValueTextEquals("params"u8);
                reader.Read();
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                if (isParams)
                {
                    paramsStart = start;
                    paramsLength = (int)reader.BytesConsumed - start;
                }
            }

            // The root object is closed: only whitespace may follow (Read throws on anything else).
            if (reader.TokenType != JsonTokenType.EndObject || reader.CurrentDepth != 0 || reader.Read() || found is null)
            {
                return false;
            }
        }
        catch (JsonException)
        {
            return false;
        }

        method = found;
        return true;
    }

    /// <summary>The method as a string, reusing the previous line's when equal: one method name, not one string per line.</summary>
    private string MethodString(ref Utf8JsonReader reader)
    {
        if (_lastMethod is not null && !reader.ValueIsEscaped && reader.ValueSpan.SequenceEqual(_lastMethodUtf8))
        {
            return _lastMethod;
        }

        var method = reader.GetString()!;
        if (!reader.ValueIsEscaped)
        {
            _lastMethod = method;
            _lastMethodUtf8 = reader.ValueSpan.ToArray();
        }

        return method;
    }

    private static string Preview(ReadOnlySequence<byte> line)
    {
        var slice = line.Length > 200 ? line.Slice(0, 200) : line;
        return Encoding.UTF8.GetString(slice);
    }

    private static ReadOnlySequence<byte> TrimWhitespace(ReadOnlySequence<byte> line)
    {
        while (!line.IsEmpty && IsWhitespace(line.Slice(line.Length - 1).FirstSpan[0]))
        {
            line = line.Slice(0, line.Length - 1);
        }

        while (!line.IsEmpty && IsWhitespace(line.FirstSpan[0]))
        {
            line = line.Slice(1);
        }

        return line;

        static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\r' or (byte)'\t';
    }
}
