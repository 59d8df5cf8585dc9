using System.Diagnostics;
using System.Globalization;
using System.Net;
using AgentOs.Client;

namespace AgentOs.Testing;

/// <summary>
/// A real AgentOs server (src/AgentOs.Server, the build named by the <c>ServerDll</c> assembly
/// metadata) as a child process on free loopback ports, with its own data directory and a unique
/// cluster id, configured only through environment variables, the way a user runs it. Its stdout
/// and stderr go to <see cref="LogPath"/>. The server tests and the benchmark both run it.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    /// <summary>How long <see cref="StartAsync"/> waits for health and <see cref="KillAsync"/> for the exit.</summary>
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly TempDirectory? _ownedRoot;
    private readonly Stopwatch _sinceStart;
    private readonly int _httpPort;

    private ServerProcess(Process process, Stopwatch sinceStart, string root, TempDirectory? ownedRoot, int[] ports, string clusterId)
    {
        _process = process;
        _sinceStart = sinceStart;
        _ownedRoot = ownedRoot;
        _httpPort = ports[0];
        SiloPort = ports[1];
        GatewayPort = ports[2];
        ClusterId = clusterId;
        DataDirectory = Path.Combine(root, "data");
        // One log per process: a restarted server on the same data directory gets a file of its own.
        LogPath = Path.Combine(root, $"server-{process.Id}.log");
        _log = new StreamWriter(LogPath) { AutoFlush = true };
    }

    public int Pid => _process.Id;

    public int SiloPort { get; }

    public int GatewayPort { get; }

    public string ClusterId { get; }

    /// <summary>The server's <c>AgentOs__DataDirectory</c>.</summary>
    public string DataDirectory { get; }

    /// <summary>The server's stdout and stderr, as they arrive.</summary>
    public string LogPath { get; }

    public Uri BaseAddress => new($"http://127.0.0.1:{_httpPort}");

    /// <summary>Time since just before the process was started.</summary>
    public TimeSpan SinceStart => _sinceStart.Elapsed;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything the server wrote so far.</summary>
    public string Output
    {
        get
        {
            try
            {
                lock (_log)
                {
                    _log.Flush();
                }

                using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                return reader.ReadToEnd();
            }
            catch (IOException)
            {
                return "";
            }
        }
    }

    /// <summary>Options for a client of this server.</summary>
    public AgentOsClientOptions ClientOptions => new() { GatewayHost = "127.0.0.1", GatewayPort = GatewayPort, ClusterId = ClusterId, ServiceId = ClusterId };

    /// <summary>Starts a server without waiting for it (see <see cref="WaitHealthyAsync"/>).</summary>
    /// <param name="environment">More environment variables: agent types, sandbox settings, …</param>
    /// <param name="root">Its working directory, holding <c>data/</c> and the log; a temp directory removed on dispose when null.</param>
    /// <param name="ports">HTTP, silo and gateway ports; free ones when null.</param>
    public static ServerProcess Start(IReadOnlyDictionary<string, string>? environment = null, string? root = null, int[]? ports = null)
    {
        ports ??= FreePorts.Take(3);
        var owned = root is null ? new TempDirectory("agentos-server") : null;
        root ??= owned!.Path;
        var clusterId = "srv-" + Guid.NewGuid().ToString("N")[..10];
        var info = new ProcessStartInfo(BuiltArtifacts.Dotnet, [BuiltArtifacts.Path("ServerDll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
        };
        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{ports[0]}";
        info.Environment["AgentOs__Orleans__SiloPort"] = ports[1].ToString(CultureInfo.InvariantCulture);
        info.Environment["AgentOs__Orleans__GatewayPort"] = ports[2].ToString(CultureInfo.InvariantCulture);
        info.Environment["AgentOs__Orleans__ClusterId"] = clusterId;
        info.Environment["AgentOs__Orleans__ServiceId"] = clusterId;
        info.Environment["AgentOs__DataDirectory"] = Path.Combine(root, "data");
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var stopwatch = Stopwatch.StartNew();
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the server process.");
        var server = new ServerProcess(process, stopwatch, root, owned, ports, clusterId);
        process.OutputDataReceived += (_, e) => server.Log(e.Data);
        process.ErrorDataReceived += (_, e) => server.Log(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    /// <summary>Starts a server and waits until <c>/healthz</c> answers 200; stops it again if it never does.</summary>
    public static async Task<ServerProcess> StartAsync(IReadOnlyDictionary<string, string>? environment = null, string? root = null, int[]? ports = null)
    {
        var server = Start(environment, root, ports);
        try
        {
            await server.WaitHealthyAsync(WaitLimit);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Polls <c>GET /healthz</c> (the server gives no other signal) until it answers 200; returns <see cref="SinceStart"/> then.</summary>
    public async Task<TimeSpan> WaitHealthyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var url = new Uri(BaseAddress, "/healthz");
        while (true)
        {
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync(); // drains the redirected output too
                throw new InvalidOperationException($"The server exited with code {_process.ExitCode} before it was ready:\n{Output}");
            }

            try
            {
                using var response = await http.GetAsync(url);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return SinceStart;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Listening, not answering yet.
            }

            if (SinceStart > timeout)
            {
                throw new TimeoutException($"The server did not answer /healthz 200 within {timeout.TotalSeconds} s:\n{Output}");
            }

            // Fine-grained: the benchmark times the start with it.
            await Task.Delay(5);
        }
    }

    /// <summary>Kills the server at once (SIGKILL), like a crash; its agents are left to notice.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: false);
            await _process.WaitForExitAsync().WaitAsync(WaitLimit);
        }
    }

    /// <summary>SIGTERM, then up to <paramref name="grace"/> for a graceful stop, then a kill of the process tree.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }

        try
        {
            using var term = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", Pid.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false });
            if (term is not null)
            {
                await term.WaitForExitAsync();
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No kill(1): the kill below ends it.
        }

        using var cts = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            await KillTreeAsync();
        }
    }

    /// <summary>Kills the whole tree at once (its agents die with it only if it shuts down cleanly), then removes an owned directory.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillTreeAsync();
        }
        finally
        {
            _process.Dispose();
            lock (_log)
            {
                _log.Dispose();
            }

            _ownedRoot?.Dispose();
        }
    }

    private async Task KillTreeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(WaitLimit);
        }
    }

    private void Log(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            try
            {
                _log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // Output after dispose.
            }
        }
    }
}
