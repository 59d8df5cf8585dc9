using System.Diagnostics;

namespace AgentOs.Server.Tests.Infrastructure;

/// <summary>The server executable run with one of its commands (<c>certs create …</c>), the way a user runs it.</summary>
internal static class ServerCommand
{
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args) => RunAsync(null, args);

    /// <summary>The same, with more environment variables (<c>AgentOs__DataDirectory</c>, …).</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var info = new ProcessStartInfo(TestPaths.Dotnet, [TestPaths.ServerDll, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TestTimeouts.Default);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"`AgentOs.Server {string.Join(' ', args)}` did not exit within {TestTimeouts.Default.TotalSeconds} s.");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs <c>certs create --out <paramref name="dir"/></c> (with <c>--host</c> per host) and checks it succeeded.</summary>
    public static async Task<string> CertsCreateAsync(string dir, params string[] hosts)
    {
        var (exitCode, stdout, stderr) = await RunAsync(["certs", "create", "--out", dir, .. hosts.SelectMany(h => new[] { "--host", h })]);
        exitCode.Should().Be(0, $"certs create should succeed:\n{stdout}\n{stderr}");
        return dir;
    }
}
