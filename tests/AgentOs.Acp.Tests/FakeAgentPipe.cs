using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;

namespace AgentOs.Acp.Tests;

/// <summary>The one timeout every wait in these tests shares: long enough never to fire on a healthy run.</summary>
internal static class TestTimeouts
{
    public static readonly TimeSpan Signal = TimeSpan.FromSeconds(10);
}

/// <summary>Builds the lines a fake agent sends (ids and params as raw JSON).</summary>
internal static class Wire
{
    public static string Result(long id, string resultJson) => Result(id.ToString(CultureInfo.InvariantCulture), resultJson);

    public static string Result(string idJson, string resultJson) =>
        "{\"jsonrpc\":\"2.0\",\"id\":" + idJson + ",\"result\":" + resultJson + "}";

    public static string Error(long id, int code, string message, string? dataJson = null) =>
        "{\"jsonrpc\":\"2.0\",\"id\":" + id.ToString(CultureInfo.InvariantCulture)
        + ",\"error\":{\"code\":" + code.ToString(CultureInfo.InvariantCulture)
        + ",\"message\":" + JsonSerializer.Serialize(message, AcpJsonContext.Default.String)
        + (dataJson is null ? "" : ",\"data\":" + dataJson) + "}}";

    public static string Request(string idJson, string method, string paramsJson) =>
        "{\"jsonrpc\":\"2.0\",\"id\":" + idJson + ",\"method\":\"" + method + "\",\"params\":" + paramsJson + "}";

    public static string Notification(string method, string paramsJson) =>
        "{\"jsonrpc\":\"2.0\",\"method\":\"" + method + "\",\"params\":" + paramsJson + "}";
}

/// <summary>
/// Plays the agent's side of an <see cref="AcpConnection"/> over two in-memory pipes: what the test
/// sends becomes the agent's stdout, what the connection writes (the agent's stdin) is read back
/// line by line.
/// </summary>
public sealed class FakeAgentPipe : IAsyncDisposable
{
    private readonly Pipe _agentStdout;
    private readonly Pipe _agentStdin;
    private readonly SemaphoreSlim _sendLock = new(1, 1);

    /// <param name="agentStdoutOptions">Options of the agent → connection pipe (a small pause threshold makes every send wait until the connection has read it).</param>
    /// <param name="agentStdinOptions">Options of the connection → agent pipe (a small pause threshold simulates an agent that stopped reading its stdin).</param>
    public FakeAgentPipe(PipeOptions? agentStdoutOptions = null, PipeOptions? agentStdinOptions = null)
    {
        _agentStdout = new Pipe(agentStdoutOptions ?? PipeOptions.Default);
        _agentStdin = new Pipe(agentStdinOptions ?? PipeOptions.Default);
        FromAgent = _agentStdout.Reader.AsStream();
        ToAgent = _agentStdin.Writer.AsStream();
    }

    /// <summary>The agent's stdout, as the connection reads it.</summary>
    public Stream FromAgent { get; }

    /// <summary>The agent's stdin, as the connection writes it.</summary>
    public Stream ToAgent { get; }

    /// <summary>Creates a connection over this pipe and starts its read loop.</summary>
    public AcpConnection Connect(IAcpClientHandler handler, AcpConnectionOptions? options = null)
    {
        var connection = new AcpConnection(FromAgent, ToAgent, handler, options);
        connection.Start();
        return connection;
    }

    /// <summary>Writes one line (a <c>\n</c> is appended) to the agent's stdout.</summary>
    public Task SendLineAsync(string line) => SendRawAsync(line + "\n");

    /// <summary>Writes text verbatim (no newline added) to the agent's stdout.</summary>
    public Task SendRawAsync(string text) => SendBytesAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>Writes bytes verbatim to the agent's stdout and flushes them.</summary>
    public async Task SendBytesAsync(ReadOnlyMemory<byte> bytes)
    {
        await _sendLock.WaitAsync(TestTimeouts.Signal);
        try
        {
            await _agentStdout.Writer.WriteAsync(bytes).AsTask().WaitAsync(TestTimeouts.Signal);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>A successful response to a request of the connection.</summary>
    public Task SendResultAsync(long id, string resultJson) =>
        SendLineAsync(Wire.Result(id, resultJson));

    /// <summary>An agent → client notification.</summary>
    public Task SendNotificationAsync(string method, string paramsJson) =>
        SendLineAsync(Wire.Notification(method, paramsJson));

    /// <summary>Closes the agent's stdout: the connection sees EOF.</summary>
    public void CompleteOutput() => _agentStdout.Writer.Complete();

    /// <summary>Stops reading the agent's stdin, as an agent that exited would.</summary>
    public void CompleteInput() => _agentStdin.Reader.Complete();

    /// <summary>
    /// The next line the connection wrote, without its <c>\n</c>, or null at EOF. Throws
    /// <see cref="TimeoutException"/> when no complete line arrives in time.
    /// </summary>
    public async Task<byte[]?> ReadLineBytesAsync(TimeSpan? timeout = null)
    {
        var limit = timeout ?? TestTimeouts.Signal;
        using var cts = new CancellationTokenSource(limit);
        var reader = _agentStdin.Reader;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await reader.ReadAsync(cts.Token);
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested)
            {
                throw new TimeoutException($"The connection wrote no complete line within {limit}.");
            }

            var buffer = result.Buffer;
            if (buffer.PositionOf((byte)'\n') is { } newline)
            {
                var line = buffer.Slice(0, newline).ToArray();
                reader.AdvanceTo(buffer.GetPosition(1, newline));
                return line;
            }

            if (result.IsCompleted)
            {
                var rest = buffer.ToArray();
                reader.AdvanceTo(buffer.End);
                return rest.Length == 0
                    ? null
                    : throw new InvalidDataException("The connection closed its output after a partial line: " + Encoding.UTF8.GetString(rest));
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>The next line the connection wrote, as text (null at EOF).</summary>
    public async Task<string?> ReadLineAsync(TimeSpan? timeout = null) =>
        await ReadLineBytesAsync(timeout) is { } bytes ? Encoding.UTF8.GetString(bytes) : null;

    /// <summary>The next line the connection wrote, parsed. Fails at EOF or on a line that is not JSON.</summary>
    public async Task<JsonDocument> ReadJsonAsync(TimeSpan? timeout = null)
    {
        var bytes = await ReadLineBytesAsync(timeout) ?? throw new EndOfStreamException("The connection closed its output.");
        try
        {
            return JsonDocument.Parse(bytes);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException("The connection wrote a line that is not JSON: " + Encoding.UTF8.GetString(bytes), ex);
        }
    }

    /// <summary>The next message the connection wrote, as a detached element.</summary>
    public async Task<JsonElement> ReadMessageAsync(TimeSpan? timeout = null)
    {
        using var document = await ReadJsonAsync(timeout);
        return document.RootElement.Clone();
    }

    /// <summary>Reads the next request, checks its method and returns its id.</summary>
    public async Task<long> ReadRequestIdAsync(string expectedMethod)
    {
        var message = await ReadMessageAsync();
        message.GetProperty("method").GetString().Should().Be(expectedMethod);
        return message.GetProperty("id").GetInt64();
    }

    public async ValueTask DisposeAsync()
    {
        await _agentStdout.Writer.CompleteAsync();
        await _agentStdin.Reader.CompleteAsync();
        _sendLock.Dispose();
    }
}
