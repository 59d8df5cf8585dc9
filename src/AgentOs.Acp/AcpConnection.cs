using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentOs.Acp;

/// <summary>Limits and timeouts of one <see cref="AcpConnection"/>.</summary>
public sealed class AcpConnectionOptions
{
    /// <summary>Timeout of a request when the caller gives none. Default 2 minutes.</summary>
    public TimeSpan DefaultRequestTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>A line longer than this is skipped as malformed. Default 64 MiB.</summary>
    public int MaxLineBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>Prefix for log scopes, usually the agent and session it serves.</summary>
    public string Name { get; set; } = "agent";
}

/// <summary>
/// One ACP connection over an agent's stdio: newline-delimited JSON-RPC 2.0.
/// </summary>
/// <remarks>
/// <para>Why hand-written framing rather than StreamJsonRpc: ACP is newline-delimited JSON with
/// known quirks (ids from the agent that collide with ours, notifications racing their request's
/// reply, garbage lines that must be skipped, never fatal), and AgentOs persists every
/// notification's <c>params</c> verbatim at up to hundreds of thousands per second. Owning the read
/// loop lets a notification go from the pipe to the event pipeline as raw JSON with one parse and
/// no dispatch through reflection or per-message tasks, keeps direction-separated id spaces
/// explicit, and keeps this package free of dependencies beyond logging abstractions.
/// StreamJsonRpc's value (method binding, progress, marshalled objects) is not needed here.</para>
/// <para>Threading: one background read loop delivers notifications in order to
/// <see cref="IAcpClientHandler"/>; writes are serialized by a lock; requests are correlated by a
/// <see cref="ConcurrentDictionary{TKey,TValue}"/> of completion sources that run continuations
/// asynchronously, so a caller's continuation never runs on the read loop.</para>
/// </remarks>
public sealed partial class AcpConnection : IAsyncDisposable
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();

    private readonly Stream _fromAgent;
    private readonly Stream _toAgent;
    private readonly IAcpClientHandler _handler;
    private readonly AcpConnectionOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly ConcurrentDictionary<long, PendingRequest> _pending = new();
    private readonly CancellationTokenSource _shutdown = new();
    private long _lastId;
    private Task _readLoop = Task.CompletedTask;
    private volatile Exception? _closedReason;
    private int _outputClosed;
    private volatile bool _outputDisposed;
    private int _disposed;

    /// <param name="fromAgent">The agent's stdout.</param>
    /// <param name="toAgent">The agent's stdin.</param>
    /// <param name="handler">Receives the agent's notifications and requests.</param>
    /// <param name="options">Limits and timeouts; defaults when null.</param>
    /// <param name="logger">Where protocol problems are logged.</param>
    public AcpConnection(Stream fromAgent, Stream toAgent, IAcpClientHandler handler, AcpConnectionOptions? options = null, ILogger? logger = null)
    {
        _fromAgent = fromAgent;
        _toAgent = toAgent;
        _handler = handler;
        _options = options ?? new AcpConnectionOptions();
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Completes when the read loop ends (the agent closed its stdout or the connection was disposed).</summary>
    public Task Completion => _readLoop;

    /// <summary>True once the connection can no longer carry requests.</summary>
    public bool IsClosed => _closedReason is not null;

    /// <summary>Number of lines skipped because they were not JSON-RPC.</summary>
    public long MalformedLines => Interlocked.Read(ref _malformedLines);

    private long _malformedLines;

    /// <summary>Starts the background read loop.</summary>
    public void Start() => _readLoop = Task.Run(ReadLoopAsync);

    /// <summary>Sends a request with typed params and result.</summary>
    /// <param name="method">The ACP method.</param>
    /// <param name="parameters">Its params.</param>
    /// <param name="paramsType">Source-generated serializer metadata of the params.</param>
    /// <param name="resultType">Source-generated serializer metadata of the result.</param>
    /// <param name="timeout">Covers writing the request and waiting for its answer; default <see cref="AcpConnectionOptions.DefaultRequestTimeout"/>.</param>
    /// <param name="cancellationToken">Stops waiting (the agent is not told; ACP cancels turns with <c>session/cancel</c>).</param>
    /// <param name="onResponse">
    /// Runs on the read loop the moment the response line is read, before any later line is
    /// processed: a precise boundary between what the agent sent before its answer and after.
    /// </param>
    public async Task<TResult> SendRequestAsync<TParams, TResult>(
        string method, TParams parameters, JsonTypeInfo<TParams> paramsType, JsonTypeInfo<TResult> resultType,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default, Action? onResponse = null)
    {
        var result = await SendRequestCoreAsync(method, w => JsonSerializer.Serialize(w, parameters, paramsType), timeout, cancellationToken, onResponse).ConfigureAwait(false);
        if (result.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            throw new AcpException($"The agent answered '{method}' with no result.");
        }

        try
        {
            return result.Deserialize(resultType) ?? throw new AcpException($"The agent answered '{method}' with an empty result.");
        }
        catch (JsonException ex)
        {
            throw new AcpException($"The agent's answer to '{method}' does not match the ACP schema: {ex.Message}", ex);
        }
    }

    /// <summary>Sends a request whose params are raw JSON (or none) and returns the raw result.</summary>
    public Task<JsonElement> SendRequestAsync(string method, string? paramsJson, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        SendRequestCoreAsync(method, paramsJson is null ? null : w => WriteCompact(w, paramsJson), timeout, cancellationToken);

    /// <summary>Re-emits raw JSON compactly: a pretty-printed value must not break the one-line framing.</summary>
    private static void WriteCompact(Utf8JsonWriter writer, string json)
    {
        using var document = JsonDocument.Parse(json);
        document.RootElement.WriteTo(writer);
    }

    /// <summary>Sends a notification (no reply expected).</summary>
    public Task SendNotificationAsync<TParams>(string method, TParams parameters, JsonTypeInfo<TParams> paramsType, CancellationToken cancellationToken = default) =>
        WriteMessageAsync(w =>
        {
            w.WriteString("jsonrpc"u8, "2.0"u8);
            w.WriteString("method"u8, method);
            w.WritePropertyName("params"u8);
            JsonSerializer.Serialize(w, parameters, paramsType);
        }, cancellationToken);

    private async Task<JsonElement> SendRequestCoreAsync(string method, Action<Utf8JsonWriter>? writeParams, TimeSpan? timeout, CancellationToken cancellationToken, Action? onResponse = null)
    {
        ThrowIfClosed();
        var id = Interlocked.Increment(ref _lastId);
        var pending = new PendingRequest(method) { OnResponse = onResponse };
        _pending[id] = pending;
        var limit = timeout ?? _options.DefaultRequestTimeout;
        // One deadline for the whole request: an agent that stops reading its stdin times out too.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (limit != Timeout.InfiniteTimeSpan)
        {
            deadline.CancelAfter(limit);
        }

        try
        {
            // Closed between the check and the registration: fail now rather than wait for a timeout.
            ThrowIfClosed();
            await WriteMessageAsync(w =>
            {
                w.WriteString("jsonrpc"u8, "2.0"u8);
                w.WriteNumber("id"u8, id);
                w.WriteString("method"u8, method);
                if (writeParams is not null)
                {
                    w.WritePropertyName("params"u8);
                    writeParams(w);
                }
            }, deadline.Token).ConfigureAwait(false);

            return await pending.Completion.Task.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && deadline.IsCancellationRequested)
        {
            LogRequestTimedOut(_logger, _options.Name, method, id, limit);
            throw new AcpTimeoutException(method, limit);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    private void ThrowIfClosed()
    {
        if (_closedReason is { } reason)
        {
            throw reason as AcpConnectionClosedException ?? new AcpConnectionClosedException(reason.Message, reason);
        }
    }

    private async Task WriteMessageAsync(Action<Utf8JsonWriter> body, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        buffer.Write(NewLine);
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfClosedForWrite();
            await _toAgent.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            await _toAgent.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Part of the line may be written: the framing is broken, nothing more may be sent.
            Volatile.Write(ref _outputClosed, 1);
            throw;
        }
        catch (IOException ex)
        {
            throw new AcpConnectionClosedException("Could not write to the agent: its stdin is closed (did it exit?).", ex);
        }
        catch (ObjectDisposedException ex)
        {
            throw new AcpConnectionClosedException("Could not write to the agent: the connection is disposed.", ex);
        }
        catch (NotSupportedException ex)
        {
            throw new AcpConnectionClosedException("Could not write to the agent: its stdin is closed.", ex);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private void ThrowIfClosedForWrite()
    {
        if (Volatile.Read(ref _outputClosed) != 0)
        {
            throw new AcpConnectionClosedException("The agent's stdin was closed by AgentOs.");
        }
    }

    /// <summary>Closes the agent's stdin: the polite way to ask an agent to exit.</summary>
    public async Task CloseOutputAsync()
    {
        if (Interlocked.Exchange(ref _outputClosed, 1) != 0 && _outputDisposed)
        {
            return;
        }

        // A write stuck on a full pipe holds the lock; disposing the stream is what unblocks it.
        var locked = await _sendLock.WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        try
        {
            if (!_outputDisposed)
            {
                _outputDisposed = true;
                try
                {
                    await _toAgent.DisposeAsync().ConfigureAwait(false);
                }
                catch (IOException)
                {
                    // Already gone.
                }
            }
        }
        finally
        {
            if (locked)
            {
                _sendLock.Release();
            }
        }
    }

    private async Task ReadLoopAsync()
    {
        var reader = PipeReader.Create(_fromAgent, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true));
        Exception closeReason = new AcpConnectionClosedException("The agent closed its stdout (it probably exited).");
        try
        {
            var skippingLongLine = false;
            while (true)
            {
                var result = await reader.ReadAsync(_shutdown.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (true)
                {
                    var newline = buffer.PositionOf((byte)'\n');
                    if (newline is null)
                    {
                        break;
                    }

                    var line = buffer.Slice(0, newline.Value);
                    buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));
                    if (skippingLongLine)
                    {
                        skippingLongLine = false;
                        continue;
                    }

                    await ProcessLineAsync(line).ConfigureAwait(false);
                }

                if (buffer.Length > _options.MaxLineBytes || (skippingLongLine && !buffer.IsEmpty))
                {
                    // Flood without newline: drop what we have and skip to the next newline (reported once).
                    if (!skippingLongLine)
                    {
                        ReportMalformed(Preview(buffer), $"line longer than {_options.MaxLineBytes} bytes");
                    }

                    skippingLongLine = true;
                    buffer = buffer.Slice(buffer.End);
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    if (!buffer.IsEmpty && !skippingLongLine)
                    {
                        await ProcessLineAsync(buffer).ConfigureAwait(false);
                    }

                    break;
                }
            }
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
            closeReason = new AcpConnectionClosedException("The connection was disposed.");
        }
        catch (Exception ex)
        {
            LogReadLoopFailed(_logger, _options.Name, ex);
            closeReason = new AcpConnectionClosedException($"Reading from the agent failed: {ex.Message}", ex);
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            Close(closeReason);
        }
    }

    private void Close(Exception reason)
    {
        _closedReason ??= reason;
        foreach (var (id, pending) in _pending)
        {
            if (_pending.TryRemove(id, out _))
            {
                pending.Completion.TrySetException(_closedReason);
            }
        }
    }

    private void DispatchRequest(string method, JsonElement parameters, JsonElement id)
    {
        Task<AcpReply> reply;
        try
        {
            reply = _handler.OnRequestAsync(new AcpIncomingMessage(method, parameters, id), _shutdown.Token);
        }
        catch (Exception ex)
        {
            reply = Task.FromException<AcpReply>(ex);
        }

        _ = ReplyWhenDoneAsync(method, id, reply);
    }

    private async Task ReplyWhenDoneAsync(string method, JsonElement id, Task<AcpReply> pendingReply)
    {
        AcpReply reply;
        try
        {
            reply = await pendingReply.ConfigureAwait(false);
            if (!reply.IsError && !IsValidJson(reply.ResultJson!))
            {
                throw new AcpException($"The handler for '{method}' produced a result that is not JSON.");
            }
        }
        catch (Exception ex)
        {
            LogHandlerFailed(_logger, _options.Name, method, ex);
            reply = AcpReply.Error(JsonRpcErrorCodes.InternalError, ex is OperationCanceledException ? "cancelled" : ex.Message);
        }

        try
        {
            await WriteMessageAsync(w =>
            {
                w.WriteString("jsonrpc"u8, "2.0"u8);
                w.WritePropertyName("id"u8);
                id.WriteTo(w);
                if (reply.IsError)
                {
                    w.WriteStartObject("error"u8);
                    w.WriteNumber("code"u8, reply.ErrorCode);
                    w.WriteString("message"u8, reply.ErrorMessage);
                    w.WriteEndObject();
                }
                else
                {
                    w.WritePropertyName("result"u8);
                    WriteCompact(w, reply.ResultJson!);
                }
            }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (AcpConnectionClosedException)
        {
            // The agent is gone; nobody to answer.
        }
    }

    private static bool IsValidJson(string json)
    {
        try
        {
            using var _ = JsonDocument.Parse(json);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private void CompleteRequest(JsonElement root, JsonElement idElement)
    {
        long id;
        if (idElement.ValueKind == JsonValueKind.Number ? !idElement.TryGetInt64(out id) : !long.TryParse(idElement.GetString(), out id))
        {
            LogUnknownResponse(_logger, _options.Name, idElement.GetRawText());
            return;
        }

        if (!_pending.TryRemove(id, out var pending))
        {
            LogUnknownResponse(_logger, _options.Name, idElement.GetRawText());
            return;
        }

        try
        {
            pending.OnResponse?.Invoke();
        }
        catch (Exception ex)
        {
            LogHandlerFailed(_logger, _options.Name, pending.Method, ex);
        }

        if (root.TryGetProperty("error"u8, out var error) && error.ValueKind == JsonValueKind.Object)
        {
            var code = error.TryGetProperty("code"u8, out var c) && c.TryGetInt32(out var ci) ? ci : JsonRpcErrorCodes.InternalError;
            var message = error.GetStringOrNull("message") ?? "(no message)";
            var data = error.TryGetProperty("data"u8, out var d) ? d.GetRawText() : null;
            pending.Completion.TrySetException(new AcpRemoteException(pending.Method, code, message, data));
        }
        else
        {
            pending.Completion.TrySetResult(root.TryGetProperty("result"u8, out var result) ? result.Clone() : default);
        }
    }

    private void ReportMalformed(string preview, string reason)
    {
        Interlocked.Increment(ref _malformedLines);
        LogMalformedLine(_logger, _options.Name, reason, preview);
        try
        {
            _handler.OnMalformedLine(preview, reason);
        }
        catch (Exception ex)
        {
            LogHandlerFailed(_logger, _options.Name, "(malformed line)", ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Close(new AcpConnectionClosedException("The connection was disposed."));
        await _shutdown.CancelAsync().ConfigureAwait(false);
        await CloseOutputAsync().ConfigureAwait(false);
        try
        {
            await _readLoop.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The read loop reports through Close; nothing more to do.
        }

        _shutdown.Dispose();
    }

    private sealed class PendingRequest(string method)
    {
        public string Method { get; } = method;

        public TaskCompletionSource<JsonElement> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Action? OnResponse { get; init; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Agent}: skipped a line from the agent ({Reason}): {Preview}")]
    private static partial void LogMalformedLine(ILogger logger, string agent, string reason, string preview);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Agent}: request '{Method}' (id {Id}) timed out after {Timeout}")]
    private static partial void LogRequestTimedOut(ILogger logger, string agent, string method, long id, TimeSpan timeout);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Agent}: response with unknown id {Id} ignored")]
    private static partial void LogUnknownResponse(ILogger logger, string agent, string id);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Agent}: handler for '{Method}' failed")]
    private static partial void LogHandlerFailed(ILogger logger, string agent, string method, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Agent}: reading from the agent failed")]
    private static partial void LogReadLoopFailed(ILogger logger, string agent, Exception exception);
}
