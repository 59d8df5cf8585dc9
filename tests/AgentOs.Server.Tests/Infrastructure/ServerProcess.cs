using System.Diagnostics;
using System.Text;
using AgentOs.Client;

namespace AgentOs.Server.Tests.Infrastructure;

/// <summary>
/// A real AgentOs server process (src/AgentOs.Server) on free loopback ports with its own data
/// directory, configured only through environment variables, the way a user runs it. Killed by
/// its pid on dispose.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TempDirectory? _ownedData;

    private ServerProcess(Process process, int httpPort, int gatewayPort, string clusterId, string dataDirectory, TempDirectory? ownedData)
    {
        _process = process;
        HttpPort = httpPort;
        GatewayPort = gatewayPort;
        ClusterId = clusterId;
        DataDirectory = dataDirectory;
        _ownedData = ownedData;
    }

    public int HttpPort { get; }

    public int GatewayPort { get; }

    public int SiloPort { get; private init; }

    public string ClusterId { get; }

    public string DataDirectory { get; }

    public int Pid => _process.Id;

    public Uri BaseAddress => new($"http://127.0.0.1:{HttpPort}");

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public AgentOsClientOptions ClientOptions => new() { GatewayPort = GatewayPort, ClusterId = ClusterId, ServiceId = ClusterId };

    /// <summary>Starts a server and waits until /healthz answers 200.</summary>
    public static async Task<ServerProcess> StartAsync(IReadOnlyDictionary<string, string>? env = null, string? dataDirectory = null, int[]? ports = null)
    {
        ports ??= FreePorts.Take(3);
        var owned = dataDirectory is null ? new TempDirectory("agentos-server") : null;
        var data = dataDirectory ?? owned!.Path;
        var clusterId = "srv-" + Guid.NewGuid().ToString("N")[..8];
        var info = new ProcessStartInfo(TestPaths.Dotnet, [TestPaths.ServerDll])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = data,
        };
        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{ports[0]}";
        info.Environment["AgentOs__Orleans__SiloPort"] = ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["AgentOs__Orleans__GatewayPort"] = ports[2].ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["AgentOs__Orleans__ClusterId"] = clusterId;
        info.Environment["AgentOs__Orleans__ServiceId"] = clusterId;
        info.Environment["AgentOs__DataDirectory"] = Path.Combine(data, "data");
        foreach (var (key, value) in env ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info)!;
        var server = new ServerProcess(process, ports[0], ports[2], clusterId, Path.Combine(data, "data"), owned) { SiloPort = ports[1] };
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await server.WaitUntilHealthyAsync();
        return server;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private async Task WaitUntilHealthyAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TestTimeouts.Default)
        {
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync(); // drains the redirected output too
                throw new InvalidOperationException($"The server exited with code {_process.ExitCode} before it was ready:\n{Output}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(BaseAddress, "/healthz"));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            // Poll the health endpoint like a load balancer would; the server gives no other signal.
            await Task.Delay(TimeSpan.FromMilliseconds(50));
        }

        throw new TimeoutException($"The server did not become healthy within {TestTimeouts.Default}:\n{Output}");
    }

    /// <summary>Kills the server at once (SIGKILL), like a crash.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: false);
            await _process.WaitForExitAsync().WaitAsync(TestTimeouts.Default);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                // Its agents die with it only if it shuts down cleanly, so kill the whole tree we started.
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TestTimeouts.Default);
            }
        }
        finally
        {
            _process.Dispose();
            _ownedData?.Dispose();
        }
    }
}
