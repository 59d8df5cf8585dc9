using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace AgentOs.Bench;

/// <summary>An ACP agent command line: the same one the server is configured with.</summary>
internal sealed record AgentCommand(string Command, IReadOnlyList<string> Args, IReadOnlyDictionary<string, string> Env)
{
    /// <summary>The scripted test agent (tests/AgentOs.TestAgent), run the way the server tests run it.</summary>
    public static AgentCommand TestAgent() => new(
        Paths.Dotnet,
        [Paths.TestAgentDll],
        new Dictionary<string, string>(StringComparer.Ordinal) { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" });

    /// <summary>Splits a command line on whitespace, honouring '…' and "…" quotes and backslash escapes.</summary>
    public static AgentCommand Parse(string commandLine)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        var inWord = false;
        char quote = '\0';
        for (var i = 0; i < commandLine.Length; i++)
        {
            var c = commandLine[i];
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
                else if (c == '\\' && quote == '"' && i + 1 < commandLine.Length && commandLine[i + 1] is '"' or '\\')
                {
                    current.Append(commandLine[++i]);
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c is '"' or '\'')
            {
                quote = c;
                inWord = true;
            }
            else if (c == '\\' && i + 1 < commandLine.Length)
            {
                current.Append(commandLine[++i]);
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }

        if (quote != '\0')
        {
            throw new ArgumentException($"Unterminated quote in the agent command line: {commandLine}");
        }

        if (inWord)
        {
            words.Add(current.ToString());
        }

        return words.Count == 0
            ? throw new ArgumentException("The agent command line is empty.")
            : new AgentCommand(words[0], words[1..], new Dictionary<string, string>(StringComparer.Ordinal));
    }

    /// <summary>The agent type the benchmark's server runs this command as.</summary>
    public const string ServerAgentType = "bench";

    /// <summary>The server's configuration of this command as agent type <see cref="ServerAgentType"/>.</summary>
    public Dictionary<string, string> AsServerEnvironment()
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [$"AgentOs__Agents__{ServerAgentType}__Command"] = Command,
        };
        for (var i = 0; i < Args.Count; i++)
        {
            environment[$"AgentOs__Agents__{ServerAgentType}__Args__{i}"] = Args[i];
        }

        foreach (var (key, value) in Env)
        {
            environment[$"AgentOs__Agents__{ServerAgentType}__Env__{key}"] = value;
        }

        return environment;
    }

    public string Display => string.Join(' ', new[] { Command }.Concat(Args).Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"\"{a}\"" : a));
}

/// <summary>The outcome of one bare <c>session/prompt</c>.</summary>
internal readonly record struct BarePrompt(string? StopReason, long Updates, double Milliseconds);

/// <summary>
/// The baseline: a minimal ACP client straight over the agent's stdio, no server. Newline-delimited
/// JSON-RPC; responses are matched by id; <c>session/update</c> notifications are only counted;
/// requests from the agent are refused (the benchmark prompts never cause any).
/// </summary>
internal sealed class BareAgent : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly Stream _stdin;
    private readonly Stream _stdout;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly Queue<string> _stderrTail = new();
    private readonly Task _readLoop;
    private long _nextId = -1;
    private long _updates;
    private volatile TaskCompletionSource? _updateSignal;

    private BareAgent(Process process)
    {
        _process = process;
        _stdin = process.StandardInput.BaseStream;
        _stdout = process.StandardOutput.BaseStream;
        _readLoop = Task.Run(ReadLoopAsync);
    }

    public string SessionId { get; private set; } = "";

    public int Pid => _process.Id;

    /// <summary>session/update notifications received so far.</summary>
    public long Updates => Interlocked.Read(ref _updates);

    public string StderrTail
    {
        get
        {
            lock (_stderrTail)
            {
                return string.Join('\n', _stderrTail);
            }
        }
    }

    /// <summary>
    /// Spawn + <c>initialize</c> + <c>session/new</c>, timed from just before the spawn to the
    /// <c>session/new</c> reply. The agent gets the same minimal environment the server gives it.
    /// </summary>
    public static async Task<(BareAgent Agent, double Milliseconds)> HandshakeAsync(AgentCommand command, string workingDirectory)
    {
        var psi = new ProcessStartInfo(command.Command)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var arg in command.Args)
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment.Clear();
        psi.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        psi.Environment["HOME"] = workingDirectory;
        psi.Environment["LANG"] = "C.UTF-8";
        psi.Environment["TERM"] = "xterm-256color";
        foreach (var (key, value) in command.Env)
        {
            psi.Environment[key] = value;
        }

        var stopwatch = Stopwatch.StartNew();
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {command.Display}");
        var agent = new BareAgent(process);
        process.ErrorDataReceived += (_, e) => agent.OnStderr(e.Data);
        process.BeginErrorReadLine();
        try
        {
            await agent.RequestAsync("initialize",
                """{"protocolVersion":1,"clientCapabilities":{"fs":{"readTextFile":true,"writeTextFile":true}},"clientInfo":{"name":"agentos-bench","title":"AgentOs bench","version":"0.1.0"}}""");
            var created = await agent.RequestAsync("session/new",
                $$"""{"cwd":{{JsonSerializer.Serialize(workingDirectory, BenchJsonContext.Default.String)}},"mcpServers":[]}""");
            stopwatch.Stop();
            agent.SessionId = created.TryGetProperty("sessionId", out var id) && id.GetString() is { } s
                ? s
                : throw new InvalidOperationException("The agent answered session/new without a sessionId.");
            return (agent, stopwatch.Elapsed.TotalMilliseconds);
        }
        catch
        {
            await agent.DisposeAsync();
            throw;
        }
    }

    /// <summary>One <c>session/prompt</c> turn, timed from the write of the request to its reply.</summary>
    public async Task<BarePrompt> PromptAsync(string text)
    {
        var before = Updates;
        var request = $$"""{"sessionId":{{JsonSerializer.Serialize(SessionId, BenchJsonContext.Default.String)}},"prompt":[{"type":"text","text":{{JsonSerializer.Serialize(text, BenchJsonContext.Default.String)}}}]}""";
        var stopwatch = Stopwatch.StartNew();
        var result = await RequestAsync("session/prompt", request);
        stopwatch.Stop();
        var stopReason = result.ValueKind == JsonValueKind.Object && result.TryGetProperty("stopReason", out var r) ? r.GetString() : null;
        return new BarePrompt(stopReason, Updates - before, stopwatch.Elapsed.TotalMilliseconds);
    }

    /// <summary>Completes once the update count exceeds <paramref name="count"/>.</summary>
    public async Task WaitForUpdatesAsync(long count)
    {
        var deadline = Stopwatch.StartNew();
        while (Updates <= count)
        {
            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _updateSignal = signal;
            if (Updates > count)
            {
                break;
            }

            var remaining = Timeout - deadline.Elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException($"The bare agent sent no session/update within {Timeout.TotalSeconds} s. Stderr tail:\n{StderrTail}");
            }

            await signal.Task.WaitAsync(remaining).ConfigureAwait(false);
        }
    }

    /// <summary>Sends <c>session/cancel</c>.</summary>
    public Task CancelAsync() =>
        WriteLineAsync($$$"""{"jsonrpc":"2.0","method":"session/cancel","params":{"sessionId":{{{JsonSerializer.Serialize(SessionId, BenchJsonContext.Default.String)}}}}}""");

    private async Task<JsonElement> RequestAsync(string method, string paramsJson)
    {
        var id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        await WriteLineAsync($$"""{"jsonrpc":"2.0","id":{{id.ToString(CultureInfo.InvariantCulture)}},"method":"{{method}}","params":{{paramsJson}}}""");
        try
        {
            return await reply.Task.WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The bare agent did not answer '{method}' within {Timeout.TotalSeconds} s. Stderr tail:\n{StderrTail}");
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    private async Task WriteLineAsync(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json + "\n");
        await _writeGate.WaitAsync();
        try
        {
            await _stdin.WriteAsync(bytes);
            await _stdin.FlushAsync();
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[1 << 16];
        var filled = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }

                var read = await _stdout.ReadAsync(buffer.AsMemory(filled));
                if (read == 0)
                {
                    break;
                }

                filled += read;
                var start = 0;
                int newline;
                while ((newline = Array.IndexOf(buffer, (byte)'\n', start, filled - start)) >= 0)
                {
                    OnLine(buffer.AsSpan(start, newline - start));
                    start = newline + 1;
                }

                if (start > 0)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, filled - start);
                    filled -= start;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
        }

        var gone = new IOException($"The bare agent closed its stdout (exit code {(_process.HasExited ? _process.ExitCode : -1)}). Stderr tail:\n{StderrTail}");
        foreach (var (_, waiter) in _pending)
        {
            waiter.TrySetException(gone);
        }
    }

    private void OnLine(ReadOnlySpan<byte> line)
    {
        if (line.Trim(" \t\r"u8).IsEmpty)
        {
            return;
        }

        bool hasId = false, hasMethod = false, isUpdate = false;
        long id = -1;
        try
        {
            var reader = new Utf8JsonReader(line);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    hasId = reader.TokenType != JsonTokenType.Null;
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var n))
                    {
                        id = n;
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("method"u8))
                {
                    reader.Read();
                    hasMethod = true;
                    isUpdate = reader.ValueTextEquals("session/update"u8);
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return; // not ACP JSON; ignored like the server does (it records it)
        }

        if (hasMethod && !hasId)
        {
            if (isUpdate)
            {
                Interlocked.Increment(ref _updates);
                _updateSignal?.TrySetResult();
            }
        }
        else if (hasMethod)
        {
            RefuseRequest(line.ToArray());
        }
        else if (hasId && _pending.TryGetValue(id, out var waiter))
        {
            using var doc = JsonDocument.Parse(line.ToArray());
            if (doc.RootElement.TryGetProperty("error", out var error))
            {
                waiter.TrySetException(new InvalidOperationException("The agent answered with an error: " + error.GetRawText()));
            }
            else
            {
                waiter.TrySetResult(doc.RootElement.TryGetProperty("result", out var result) ? result.Clone() : default);
            }
        }
    }

    private void RefuseRequest(byte[] line)
    {
        using var doc = JsonDocument.Parse(line);
        var id = doc.RootElement.GetProperty("id").GetRawText();
        _ = WriteLineAsync($$$"""{"jsonrpc":"2.0","id":{{{id}}},"error":{"code":-32601,"message":"The bench client does not serve agent requests."}}""");
    }

    private void OnStderr(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_stderrTail)
        {
            _stderrTail.Enqueue(line);
            while (_stderrTail.Count > 20)
            {
                _stderrTail.Dequeue();
            }
        }
    }

    /// <summary>Closes stdin, gives the agent 2 s to exit, then kills it (and its children).</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _stdin.DisposeAsync();
        }
        catch (IOException)
        {
        }

        using (var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            try
            {
                await _process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                try
                {
                    _process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }
            }
        }

        await _readLoop.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _process.Dispose();
        _writeGate.Dispose();
    }
}
