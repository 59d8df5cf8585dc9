using System.Diagnostics;
using System.Text.Json;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 15, graceful stop: an agent that, like Claude Code, stops neither at stdin's EOF nor at SIGINT gets SIGTERM
/// in its own process, inside the sandbox. Before, the SIGINT went to bubblewrap (which does not pass it on), and
/// every stop waited out the grace period and ended in a kill.
/// </summary>
public sealed class GracefulStopTests
{
    [Theory]
    [InlineData("bubblewrap")]
    [InlineData("none")]
    public async Task AnAgentThatOnlyHonoursSigterm_ExitsByItself_WhenItsSessionCloses(string sandbox)
    {
        var env = TestAgents.AsEnvironment("stubborn", "--term-only");
        env["AgentOs__Sandbox"] = sandbox;

        var exit = await CloseAndReadTheExitAsync(env, "stubborn", $"{sandbox}: the stop");

        exit.GetProperty("exitCode").GetInt32().Should().Be(0, $"the agent's own SIGTERM handler ended it, no kill (stderr: {exit.GetProperty("stderrTail").GetString()})");
        exit.GetProperty("expected").GetBoolean().Should().BeTrue();
        exit.GetProperty("stderrTail").GetString().Should().Contain("SIGTERM, exiting");
    }

    /// <summary>
    /// The launcher npm installs for codex-acp (node running the native binary with <c>spawnSync</c>) passes no signal
    /// on and dies of SIGTERM at once. SIGTERM to it alone left Codex itself without one: in the sandbox the PID
    /// namespace went down with the launcher and took Codex with a SIGKILL; as a host process Codex was orphaned until
    /// its cgroup's kill. The agent's processes are signalled from the bottom of its tree up.
    /// </summary>
    [Theory]
    [InlineData("bubblewrap")]
    [InlineData("none")]
    public async Task AnAgentBehindALauncherThatPassesNoSignalsOn_GetsItsOwnSigterm_AndExitsByItself(string sandbox)
    {
        const string Launcher = "const r = require('child_process').spawnSync(process.argv[1], process.argv.slice(2), { stdio: 'inherit' }); process.exit(r.status || 0);";
        var env = new Dictionary<string, string>
        {
            ["AgentOs__Sandbox"] = sandbox,
            ["AgentOs__Agents__launched__Command"] = "node",
            ["AgentOs__Agents__launched__Args__0"] = "-e",
            ["AgentOs__Agents__launched__Args__1"] = Launcher,
            ["AgentOs__Agents__launched__Args__2"] = TestPaths.Dotnet,
            ["AgentOs__Agents__launched__Args__3"] = TestPaths.TestAgentDll,
            ["AgentOs__Agents__launched__Args__4"] = "--term-only",
        };

        var exit = await CloseAndReadTheExitAsync(env, "launched", $"{sandbox}: the stop through a launcher");

        exit.GetProperty("stderrTail").GetString().Should().Contain("SIGTERM, exiting", "the agent behind the launcher got its own SIGTERM and ended by itself");
        exit.GetProperty("exitCode").GetInt32().Should().NotBe(137, "nothing was killed: the launcher returns its child's status, or ends at its own SIGTERM");
    }

    /// <summary>A real server with <paramref name="env"/>: a session of <paramref name="agentType"/> answers a prompt and is closed; the time it took is printed, its agent's exit returned.</summary>
    private static async Task<JsonElement> CloseAndReadTheExitAsync(Dictionary<string, string> env, string agentType, string what)
    {
        await using var server = await ServerProcess.StartAsync(env);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm(agentType);
        var session = await vm.CreateSessionAsync(agentType);
        await session.SendPromptAsync("ping");

        var stop = Stopwatch.StartNew();
        await vm.CloseSessionAsync(session.SessionId);
        stop.Stop();

        Console.WriteLine($"{what} took {stop.ElapsedMilliseconds} ms");
        return JsonDocument.Parse((await vm.GetEventsAsync(session.SessionId)).Last(e => e.Method == AgentOsEventMethods.AgentExit).Params).RootElement.Clone();
    }
}
