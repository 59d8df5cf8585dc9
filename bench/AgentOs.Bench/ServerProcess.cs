using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using AgentOs.Client;

namespace AgentOs.Bench;

/// <summary>
/// A real AgentOs server (src/AgentOs.Server, the build matching the bench's configuration) as a
/// child process on free loopback ports, with a fresh data directory and a unique cluster id.
/// Its stdout and stderr go to <see cref="LogPath"/>.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    public const string AgentType = "bench";

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly TempDirectory _temp;
    private readonly Stopwatch _sinceStart;

    private ServerProcess(Process process, StreamWriter log, TempDirectory temp, Stopwatch sinceStart, int httpPort, int gatewayPort, string clusterId)
    {
        _process = process;
        _log = log;
        _temp = temp;
        _sinceStart = sinceStart;
        HttpPort = httpPort;
        GatewayPort = gatewayPort;
        ClusterId = clusterId;
    }

    public int Pid => _process.Id;

    public int HttpPort { get; }

    public int GatewayPort { get; }

    public string ClusterId { get; }

    public string LogPath => Path.Combine(_temp.Path, "server.log");

    /// <summary>Time since just before the process was started.</summary>
    public TimeSpan SinceStart => _sinceStart.Elapsed;

    public bool HasExited => _process.HasExited;

    public static ServerProcess Start(AgentCommand agent)
    {
        var temp = new TempDirectory("agentos-bench");
        var ports = FreePorts.Take(3);
        var clusterId = "bench-" + Guid.NewGuid().ToString("N")[..10];
        var psi = new ProcessStartInfo(Paths.Dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = temp.Path,
        };
        psi.ArgumentList.Add(Paths.ServerDll);
        psi.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{ports[0]}";
        psi.Environment["AgentOs__Orleans__SiloPort"] = ports[1].ToString(CultureInfo.InvariantCulture);
        psi.Environment["AgentOs__Orleans__GatewayPort"] = ports[2].ToString(CultureInfo.InvariantCulture);
        psi.Environment["AgentOs__Orleans__ClusterId"] = clusterId;
        psi.Environment["AgentOs__Orleans__ServiceId"] = clusterId;
        psi.Environment["AgentOs__DataDirectory"] = Path.Combine(temp.Path, "data");
        psi.Environment[$"AgentOs__Agents__{AgentType}__Command"] = agent.Command;
        for (var i = 0; i < agent.Args.Count; i++)
        {
            psi.Environment[$"AgentOs__Agents__{AgentType}__Args__{i}"] = agent.Args[i];
        }

        foreach (var (key, value) in agent.Env)
        {
            psi.Environment[$"AgentOs__Agents__{AgentType}__Env__{key}"] = value;
        }

        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

        var log = new StreamWriter(Path.Combine(temp.Path, "server.log")) { AutoFlush = true };
        var stopwatch = Stopwatch.StartNew();
        var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start the server process.");
        var server = new ServerProcess(process, log, temp, stopwatch, ports[0], ports[2], clusterId);
        process.OutputDataReceived += (_, e) => server.Log(e.Data);
        process.ErrorDataReceived += (_, e) => server.Log(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    /// <summary>Polls <c>GET /healthz</c> until it answers 200; returns the time since start.</summary>
    public async Task<TimeSpan> WaitHealthyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var url = new Uri($"http://127.0.0.1:{HttpPort}/healthz");
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The server exited with code {_process.ExitCode} before it was healthy. Log: {LogPath}");
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
            }
            catch (TaskCanceledException)
            {
            }

            if (SinceStart > timeout)
            {
                throw new TimeoutException($"The server did not answer /healthz 200 within {timeout.TotalSeconds} s. Log: {LogPath}");
            }

            await Task.Delay(5);
        }
    }

    public Task<AgentOsClient> ConnectAsync() => AgentOsClient.ConnectAsync(new AgentOsClientOptions
    {
        GatewayHost = "127.0.0.1",
        GatewayPort = GatewayPort,
        ClusterId = ClusterId,
        ServiceId = ClusterId,
        ConnectTimeout = TimeSpan.FromSeconds(20),
    });

    /// <summary>The server process' resident set (agents are separate processes, not included).</summary>
    public double RssMiB(string field = "VmRSS") => MachineInfo.RssMiB(Pid, field);

    /// <summary>The server process' CPU time so far (user + system), in ms.</summary>
    public double CpuMs() => MachineInfo.CpuMs(Pid);

    /// <summary>The last lines of the server log.</summary>
    public string LogTail(int lines = 30)
    {
        try
        {
            lock (_log)
            {
                _log.Flush();
            }

            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n');
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Copies the log next to <paramref name="directory"/> so it survives the temp dir.</summary>
    public string? KeepLog(string directory, string name)
    {
        try
        {
            lock (_log)
            {
                _log.Flush();
            }

            Directory.CreateDirectory(directory);
            var target = Path.Combine(directory, name);
            File.Copy(LogPath, target, overwrite: true);
            return target;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>SIGTERM, up to 10 s for a graceful stop, then a kill of the process tree; then the temp dir goes.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
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
            }

            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                try
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync();
                }
                catch (InvalidOperationException)
                {
                }
            }
        }

        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }

        _temp.Dispose();
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
            }
        }
    }
}
