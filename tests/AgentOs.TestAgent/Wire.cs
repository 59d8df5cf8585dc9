using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgentOs.TestAgent;

/// <summary>
/// The agent's side of the newline-delimited JSON-RPC stream. Every write to stdout
/// goes through one lock into one buffer; the buffer reaches stdout on <see cref="Flush"/>.
/// </summary>
internal sealed class Wire : IDisposable
{
    private const int FlushThreshold = 64 * 1024;

    private static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    private readonly Lock _gate = new();
    private readonly Stream _output;
    private readonly ArrayBufferWriter<byte> _buffer = new(2 * FlushThreshold);
    private readonly Utf8JsonWriter _json;
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonObject>> _pending = new();
    private long _lastRequestId = -1;
    private bool _broken;

    public Wire(Stream output)
    {
        _output = output;
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Encoder = Encoder });
    }

    /// <summary>Replies <c>result</c> to the client's request <paramref name="id"/>.</summary>
    public void Respond(JsonNode id, JsonNode? result)
    {
        lock (_gate)
        {
            Begin();
            _json.WritePropertyName("id");
            id.WriteTo(_json);
            _json.WritePropertyName("result");
            WriteNode(result);
            End();
            FlushLocked();
        }
    }

    /// <summary>Replies a JSON-RPC error to the client's request <paramref name="id"/>.</summary>
    public void RespondError(JsonNode id, int code, string message)
    {
        lock (_gate)
        {
            Begin();
            _json.WritePropertyName("id");
            id.WriteTo(_json);
            _json.WriteStartObject("error");
            _json.WriteNumber("code", code);
            _json.WriteString("message", message);
            _json.WriteEndObject();
            End();
            FlushLocked();
        }
    }

    /// <summary>Sends the notification <c>session/update { sessionId, update }</c>.</summary>
    public void Notify(string sessionId, JsonObject update)
    {
        lock (_gate)
        {
            Begin();
            _json.WriteString("method", "session/update");
            _json.WriteStartObject("params");
            _json.WriteString("sessionId", sessionId);
            _json.WritePropertyName("update");
            update.WriteTo(_json);
            _json.WriteEndObject();
            End();
            FlushLocked();
        }
    }

    /// <summary>
    /// Sends a request to the client and waits for its response (the whole message, with
    /// <c>result</c> or <c>error</c>). Ids are the agent's own, counting from 0.
    /// </summary>
    public async Task<JsonObject> RequestAsync(string method, JsonObject parameters, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _lastRequestId);
        Options.Record(new JsonObject { ["request"] = id, ["method"] = method });
        var reply = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        try
        {
            lock (_gate)
            {
                Begin();
                _json.WriteNumber("id", id);
                _json.WriteString("method", method);
                _json.WritePropertyName("params");
                parameters.WriteTo(_json);
                End();
                FlushLocked();
            }
            return await reply.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Hands a response from the client to the request waiting for it.</summary>
    public void Complete(JsonNode id, JsonObject response)
    {
        if (id is JsonValue value && value.TryGetValue<long>(out var n) && _pending.TryRemove(n, out var waiter))
        {
            waiter.TrySetResult(response);
        }
        else
        {
            Console.Error.WriteLine($"test agent: response to unknown request id {id.ToJsonString()}");
        }
    }

    /// <summary>
    /// Writes <paramref name="count"/> <c>agent_message_chunk</c> updates with text "c{i} " from a
    /// preformatted template, reaching stdout every ~64 KiB. False when cancelled part way.
    /// </summary>
    public bool SendChunks(string sessionId, int count, CancellationToken cancellationToken)
    {
        var prefix = Encoding.UTF8.GetBytes(
            "{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{\"sessionId\":\""
            + JsonEncodedText.Encode(sessionId, Encoder).Value
            + "\",\"update\":{\"sessionUpdate\":\"agent_message_chunk\",\"content\":{\"type\":\"text\",\"text\":\"c");
        var suffix = " \"}}}}\n"u8;
        var maxLength = prefix.Length + 11 + suffix.Length;

        for (var i = 1; i <= count; i++)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                Flush();
                return false;
            }
            lock (_gate)
            {
                var span = _buffer.GetSpan(maxLength);
                prefix.CopyTo(span);
                i.TryFormat(span[prefix.Length..], out var digits, default, CultureInfo.InvariantCulture);
                suffix.CopyTo(span[(prefix.Length + digits)..]);
                _buffer.Advance(prefix.Length + digits + suffix.Length);
                if (_buffer.WrittenCount >= FlushThreshold)
                {
                    FlushLocked();
                }
            }
        }
        Flush();
        return true;
    }

    /// <summary>Writes raw bytes (for the non-JSON "garbage" lines) and flushes.</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            _buffer.Write(bytes);
            FlushLocked();
        }
    }

    public void Flush()
    {
        lock (_gate)
        {
            FlushLocked();
        }
    }

    /// <summary>Flushes unless another thread is stuck holding the lock (used when exiting).</summary>
    public void TryFlush()
    {
        if (_gate.TryEnter(TimeSpan.FromSeconds(1)))
        {
            try
            {
                FlushLocked();
            }
            finally
            {
                _gate.Exit();
            }
        }
    }

    public void Dispose() => _json.Dispose();

    private void Begin()
    {
        _json.Reset();
        _json.WriteStartObject();
        _json.WriteString("jsonrpc", "2.0");
    }

    private void End()
    {
        _json.WriteEndObject();
        _json.Flush();
        _buffer.Write("\n"u8);
    }

    private void WriteNode(JsonNode? node)
    {
        if (node is null)
        {
            _json.WriteNullValue();
        }
        else
        {
            node.WriteTo(_json);
        }
    }

    private void FlushLocked()
    {
        if (_buffer.WrittenCount == 0)
        {
            return;
        }
        if (!_broken)
        {
            try
            {
                _output.Write(_buffer.WrittenSpan);
                _output.Flush();
            }
            catch (IOException e)
            {
                _broken = true;
                Console.Error.WriteLine($"test agent: stdout is gone ({e.Message}); dropping output");
            }
        }
        _buffer.ResetWrittenCount();
    }
}
