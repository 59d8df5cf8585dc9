using System.Diagnostics;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests.Http;

/// <summary>Nothing of the API depends on the SDKs: Python's standard library alone drives it (Http/stdlib_client.py).</summary>
[Collection(HttpServerCollection.Name)]
public sealed class StdlibClientTests(HttpServerFixture fixture)
{
    [Fact]
    public async Task PythonStandardLibrary_CreatesPromptsAndStreams_WithAReconnectInTheMiddle()
    {
        var script = Path.Combine(AppContext.BaseDirectory, "Http", "stdlib_client.py");
        var info = new ProcessStartInfo("python3", [script, fixture.Server.BaseAddress.ToString(), TestAgents.Default])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var python = Process.Start(info)!;
        var stdout = python.StandardOutput.ReadToEndAsync();
        var stderr = python.StandardError.ReadToEndAsync();
        try
        {
            await python.WaitForExitAsync().WaitAsync(TestTimeouts.Default * 2);
        }
        finally
        {
            if (!python.HasExited)
            {
                python.Kill(entireProcessTree: true);
            }
        }

        python.ExitCode.Should().Be(0, $"the script says: {await stdout}{await stderr}");
        (await stdout).Should().StartWith("OK ");
    }
}
