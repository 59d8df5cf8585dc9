using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Text.Json;

namespace AgentOs.Server.Http.Streaming;

/// <summary>
/// Writes events as the HTTP API's JSON (<c>{ sessionId, seq, createdAt, event: { method, params } }</c>) straight
/// from their encoded form (<see cref="SessionEventCodec.RawReader"/>) into the response's pipe: the params go out as
/// the bytes the store holds, never decoded to strings and encoded again. The same writer frames them as server-sent
/// events, NDJSON lines or a JSON page.
/// </summary>
internal sealed class EventJsonWriter : IDisposable
{
    private static readonly JsonEncodedText SessionIdName = JsonEncodedText.Encode("sessionId");
    private static readonly JsonEncodedText SeqName = JsonEncodedText.Encode("seq");
    private static readonly JsonEncodedText CreatedAtName = JsonEncodedText.Encode("createdAt");
    private static readonly JsonEncodedText EventName = JsonEncodedText.Encode("event");
    private static readonly JsonEncodedText MethodName = JsonEncodedText.Encode("method");
    private static readonly JsonEncodedText ParamsName = JsonEncodedText.Encode("params");

    private readonly PipeWriter _pipe;
    private readonly Utf8JsonWriter _json;
    private byte[]? _scratch;

    public EventJsonWriter(PipeWriter pipe)
    {
        _pipe = pipe;
        // Params are written as stored (the store holds what a JSON parser accepted); nothing else needs checking.
        _json = new Utf8JsonWriter(pipe, new JsonWriterOptions { SkipValidation = true });
    }

    /// <summary>The JSON writer on the same pipe, for what surrounds events (a page's <c>{ "events": [ … ], "more" }</c>).</summary>
    public Utf8JsonWriter Json => _json;

    /// <summary>One event as a JSON value of <see cref="Json"/> (not flushed).</summary>
    public void WriteEvent(in SessionEventCodec.RawEvent e)
    {
        var json = _json;
        json.WriteStartObject();
        json.WriteString(SessionIdName, e.SessionIdUtf8);
        json.WriteNumber(SeqName, e.Seq);
        json.WriteString(CreatedAtName, DateTime.UnixEpoch.AddMilliseconds(e.CreatedAtUnixMs));
        json.WriteStartObject(EventName);
        json.WriteString(MethodName, e.MethodUtf8);
        json.WritePropertyName(ParamsName);
        json.WriteRawValue(OnOneLine(e.ParamsUtf8), skipInputValidation: true);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>One event as a server-sent event: <c>id:</c> its seq (or <paramref name="id"/>), <c>data:</c> its JSON.</summary>
    public void WriteSse(in SessionEventCodec.RawEvent e, VmCursor? id = null)
    {
        Raw("id: "u8);
        if (id is null)
        {
            Number(e.Seq);
        }
        else
        {
            id.WriteTo(this);
        }

        Raw("\ndata: "u8);
        WriteEvent(e);
        _json.Flush();
        _json.Reset();
        Raw("\n\n"u8);
    }

    /// <summary>One event as an NDJSON line.</summary>
    public void WriteLine(in SessionEventCodec.RawEvent e)
    {
        WriteEvent(e);
        _json.Flush();
        _json.Reset();
        Raw("\n"u8);
    }

    /// <summary>A named server-sent event with a JSON payload (<c>event: error</c>, before the stream ends).</summary>
    public void WriteSse(ReadOnlySpan<byte> eventName, ReadOnlySpan<byte> utf8Json)
    {
        Raw("event: "u8);
        Raw(eventName);
        Raw("\ndata: "u8);
        Raw(OnOneLine(utf8Json));
        Raw("\n\n"u8);
    }

    /// <summary>Writes bytes as they are.</summary>
    public void Raw(ReadOnlySpan<byte> bytes)
    {
        var span = _pipe.GetSpan(bytes.Length);
        bytes.CopyTo(span);
        _pipe.Advance(bytes.Length);
    }

    public void Number(long value)
    {
        var span = _pipe.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out var written);
        _pipe.Advance(written);
    }

    /// <summary>Sends what is written so far.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        _json.Flush();
        await _pipe.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// The JSON with every CR and LF as a space: a server-sent event's data and an NDJSON record are one line each. Valid
    /// JSON holds CR and LF only as whitespace between tokens (a string escapes them), so the value is unchanged.
    /// </summary>
    private ReadOnlySpan<byte> OnOneLine(ReadOnlySpan<byte> json)
    {
        if (json.IndexOfAny((byte)'\r', (byte)'\n') < 0)
        {
            return json;
        }

        if (_scratch is null || _scratch.Length < json.Length)
        {
            if (_scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(_scratch);
            }

            _scratch = ArrayPool<byte>.Shared.Rent(json.Length);
        }

        var copy = _scratch.AsSpan(0, json.Length);
        json.CopyTo(copy);
        copy.Replace((byte)'\r', (byte)' ');
        copy.Replace((byte)'\n', (byte)' ');
        return copy;
    }

    public void Dispose()
    {
        _json.Dispose();
        if (_scratch is not null)
        {
            ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = null;
        }
    }
}
