using System.Diagnostics;
using System.Text;
using AgentOs.Acp;

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
/// The baseline: the agent spoken to straight over its stdio by <see cref="AcpConnection"/>, the
/// ACP client the server uses, with no server around it. <c>session/update</c> notifications are
/// only counted (through <see cref="SessionUpdateScan"/>, as the server reads them); requests from
/// the agent are refused (the benchmark prompts never cause any).
/// </summary>
internal sealed class BareAgent : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly UpdateCounter _counter = new();
    private readonly AcpConnection _connection;
    private readonly Queue<string> _stderrTail = new();

    private BareAgent(Process process)
    {
        _process = process;
        _connection = new AcpConnection(process.StandardOutput.BaseStream, process.StandardInput.BaseStream, _counter,
            new AcpConnectionOptions { DefaultRequestTimeout = Timeout, Name = "bare" });
        _connection.Start();
    }

    public string SessionId { get; private set; } = "";

    public int Pid => _process.Id;

    /// <summary>session/update notifications received so far.</summary>
    public long Updates => _counter.Count;

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
            await agent.WithStderrAsync(agent._connection.InitializeAsync(new InitializeRequest
            {
                ProtocolVersion = AcpMethods.ProtocolVersion,
                ClientCapabilities = new ClientCapabilities { Fs = new FileSystemCapability { ReadTextFile = true, WriteTextFile = true } },
                ClientInfo = new Implementation { Name = "agentos-bench", Title = "AgentOs bench", Version = "0.1.0" },
            }));
            var created = await agent.WithStderrAsync(agent._connection.NewSessionAsync(new NewSessionRequest { Cwd = workingDirectory }));
            stopwatch.Stop();
            agent.SessionId = created.SessionId ?? throw new InvalidOperationException("The agent answered session/new without a sessionId.");
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
        var request = new PromptRequest { SessionId = SessionId, Prompt = [new TextContentBlock { Text = text }] };
        var stopwatch = Stopwatch.StartNew();
        var result = await WithStderrAsync(_connection.PromptAsync(request));
        stopwatch.Stop();
        return new BarePrompt(result.StopReason, Updates - before, stopwatch.Elapsed.TotalMilliseconds);
    }

    /// <summary>Completes once the update count exceeds <paramref name="count"/>.</summary>
    public async Task WaitForUpdatesAsync(long count)
    {
        var deadline = Stopwatch.StartNew();
        while (Updates <= count)
        {
            var signal = _counter.NextSignal();
            if (Updates > count)
            {
                break;
            }

            var remaining = Timeout - deadline.Elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException($"The bare agent sent no session/update within {Timeout.TotalSeconds} s. Stderr tail:\n{StderrTail}");
            }

            await signal.WaitAsync(remaining).ConfigureAwait(false);
        }
    }

    /// <summary>Sends <c>session/cancel</c>.</summary>
    public Task CancelAsync() => _connection.CancelAsync(new SessionIdParams { SessionId = SessionId });

    /// <summary>An ACP failure, with what the agent last wrote on stderr.</summary>
    private async Task<T> WithStderrAsync<T>(Task<T> call)
    {
        try
        {
            return await call;
        }
        catch (AcpException ex)
        {
            var exit = _process.HasExited ? $" (exit code {_process.ExitCode})" : "";
            throw new InvalidOperationException($"The bare agent{exit}: {ex.Message} Stderr tail:\n{StderrTail}", ex);
        }
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
        await _connection.CloseOutputAsync();
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

        await _connection.DisposeAsync();
        _process.Dispose();
    }

    /// <summary>Counts <c>session/update</c> notifications and wakes whoever waits for the next one.</summary>
    private sealed class UpdateCounter : IAcpClientHandler
    {
        private long _count;
        private volatile TaskCompletionSource? _signal;

        public long Count => Interlocked.Read(ref _count);

        /// <summary>A task that completes at the next update.</summary>
        public Task NextSignal()
        {
            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _signal = signal;
            return signal.Task;
        }

        public ValueTask OnNotificationAsync(AcpIncomingMessage notification)
        {
            if (notification.Method == AcpMethods.SessionUpdate && SessionUpdateScan.Read(notification.ParamsUtf8.Span, wantText: false).Kind != SessionUpdateKind.None)
            {
                Interlocked.Increment(ref _count);
                _signal?.TrySetResult();
            }

            return ValueTask.CompletedTask;
        }

        public Task<AcpReply> OnRequestAsync(AcpIncomingMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(AcpReply.Error(JsonRpcErrorCodes.MethodNotFound, "The bench client does not serve agent requests."));

        public void OnMalformedLine(string preview, string reason)
        {
            // Not ACP JSON: skipped, as the server skips it (it also records it).
        }
    }
}
