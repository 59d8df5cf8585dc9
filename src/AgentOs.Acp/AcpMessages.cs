using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace AgentOs.Acp;

/// <summary>
/// A message the agent sent: a notification or a request. <see cref="Params"/> and
/// <see cref="ParamsUtf8"/> are only valid during the callback that receives it (the underlying
/// buffer is reused); copy what you need, or use <see cref="ParamsJson"/>.
/// </summary>
public readonly struct AcpIncomingMessage
{
    private readonly JsonElement _params;
    private readonly LazyParams? _lazy;

    internal AcpIncomingMessage(string method, JsonElement @params, JsonElement? id)
    {
        Method = method;
        _params = @params;
        Id = id;
    }

    /// <summary>A notification read without building a document: its params stay bytes until asked for.</summary>
    internal AcpIncomingMessage(string method, ReadOnlyMemory<byte> paramsUtf8)
    {
        Method = method;
        _lazy = new LazyParams(paramsUtf8);
    }

    /// <summary>The JSON-RPC method.</summary>
    public string Method { get; }

    /// <summary>The params (<see cref="JsonValueKind.Undefined"/> when absent).</summary>
    public JsonElement Params => _lazy is null ? _params : _lazy.Element;

    /// <summary>
    /// The params exactly as the agent wrote them, as UTF-8 JSON (empty when absent): the cheap way
    /// to keep or scan them. Valid only during the callback.
    /// </summary>
    public ReadOnlyMemory<byte> ParamsUtf8 => _lazy is not null ? _lazy.Utf8 : _params.ValueKind == JsonValueKind.Undefined ? default : JsonMarshal.GetRawUtf8Value(_params).ToArray();

    /// <summary>The request id (null for notifications). For requests it is a detached copy.</summary>
    public JsonElement? Id { get; }

    /// <summary>The params as raw JSON text (<c>{}</c> when absent).</summary>
    public string ParamsJson => _lazy is not null
        ? (_lazy.Utf8.IsEmpty ? "{}" : Encoding.UTF8.GetString(_lazy.Utf8.Span))
        : (_params.ValueKind == JsonValueKind.Undefined ? "{}" : _params.GetRawText());

    /// <summary>Params parsed on first use only (most notifications are stored, never inspected).</summary>
    private sealed class LazyParams(ReadOnlyMemory<byte> utf8)
    {
        private JsonElement? _element;

        public ReadOnlyMemory<byte> Utf8 => utf8;

        public JsonElement Element => _element ??= Parse(utf8);

        private static JsonElement Parse(ReadOnlyMemory<byte> utf8)
        {
            if (utf8.IsEmpty)
            {
                return default;
            }

            var reader = new Utf8JsonReader(utf8.Span);
            return JsonElement.ParseValue(ref reader);
        }
    }
}

/// <summary>The answer to an agent-to-client request: a result or a JSON-RPC error.</summary>
public sealed class AcpReply
{
    private AcpReply(string? resultJson, int errorCode, string? errorMessage)
    {
        ResultJson = resultJson;
        ErrorCode = errorCode;
        ErrorMessage = errorMessage;
    }

    /// <summary>Raw JSON of the result; null when this is an error.</summary>
    public string? ResultJson { get; }

    public int ErrorCode { get; }

    public string? ErrorMessage { get; }

    public bool IsError => ResultJson is null;

    public static AcpReply Result(string resultJson) => new(resultJson, 0, null);

    public static AcpReply Error(int code, string message) => new(null, code, message);

    public static AcpReply MethodNotFound(string method) =>
        Error(JsonRpcErrorCodes.MethodNotFound, $"Method not found: {method}");

    /// <summary>The JSON-RPC error object for an error reply, or the result JSON.</summary>
    public string ToJson() => IsError
        ? JsonSerializer.Serialize(new AcpErrorObject { Code = ErrorCode, Message = ErrorMessage ?? "" }, AcpJsonContext.Default.AcpErrorObject)
        : ResultJson!;
}

/// <summary>What the agent can call on the client, and where its notifications go.</summary>
public interface IAcpClientHandler
{
    /// <summary>
    /// A notification, delivered in wire order on the read loop. Extract what you need before
    /// returning; return a pending task to apply back-pressure to the agent's stdout.
    /// </summary>
    ValueTask OnNotificationAsync(AcpIncomingMessage notification);

    /// <summary>
    /// A request from the agent, announced in wire order on the read loop. The returned task may
    /// complete later (for example after a user answers); the read loop keeps reading meanwhile.
    /// </summary>
    Task<AcpReply> OnRequestAsync(AcpIncomingMessage request, CancellationToken cancellationToken);

    /// <summary>A line that was not a JSON-RPC object; it was skipped.</summary>
    void OnMalformedLine(string preview, string reason);
}
