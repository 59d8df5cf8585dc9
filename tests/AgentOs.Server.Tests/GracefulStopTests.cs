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
        await using var server = await ServerProcess.StartAsync(env);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("stubborn");
        var session = await vm.CreateSessionAsync("stubborn");
        await session.SendPromptAsync("ping");

        var stop = Stopwatch.StartNew();
        await vm.CloseSessionAsync(session.SessionId);
        stop.Stop();

        var exit = JsonDocument.Parse((await vm.GetEventsAsync(session.SessionId)).Last(e => e.Method == AgentOsEventMethods.AgentExit).Params).RootElement;
        Console.WriteLine($"{sandbox}: the stop took {stop.ElapsedMilliseconds} ms");
        exit.GetProperty("exitCode").GetInt32().Should().Be(0, $"the agent's own SIGTERM handler ended it, no kill (stderr: {exit.GetProperty("stderrTail").GetString()})");
        exit.GetProperty("expected").GetBoolean().Should().BeTrue();
        exit.GetProperty("stderrTail").GetString().Should().Contain("SIGTERM, exiting");
    }
}
