using System.Diagnostics;
using System.Text.Json;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 13, item 7: SIGTERM under load. Before, shutdown published to stream queues that were already gone (error
/// logs about memorystreamqueue), and running turns and agents ended however they happened to.
/// </summary>
public sealed class ShutdownTests
{
    private const int Vms = 100;

    [Fact]
    public async Task Sigterm_WithVmsStreaming_EndsEveryTurnAsCancelled_RecordsEveryAgentExit_AndStopsInTime()
    {
        using var data = new TempDirectory("agentos-shutdown");
        var sessions = new List<(string Vm, string Session)>();
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__InitializeTimeout"] = "00:01:00"; // 100 agents start on 2 cores: what is tested is the stop
        await using (var server = await ServerProcess.StartAsync(env, data.Path))
        {
            await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
            var created = new List<(VmHandle vm, SessionHandle session)>();
            foreach (var wave in Enumerable.Range(0, Vms).Chunk(10))
            {
                created.AddRange(await Task.WhenAll(wave.Select(async i =>
                {
                    var vm = client.Vm($"load-{i}");
                    var session = await vm.CreateSessionAsync("mine");
                    return (vm, session);
                })));
            }

            var turns = created.Select(c => c.session.SendPromptAsync("sleep 600000")).ToList();
            foreach (var (vm, session) in created)
            {
                sessions.Add((vm.Id, session.SessionId));
                await Poll.UntilAsync(() => vm.GetSequencedEventsAsync(session.SessionId, 0, 20).GetAwaiter().GetResult().Count >= 20, "every VM streams");
            }

            var clock = Stopwatch.StartNew();
            await server.StopAsync(TimeSpan.FromSeconds(60));
            clock.Stop();

            server.HasExited.Should().BeTrue();
            clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30), "shutdown is bounded (AgentOs:ShutdownTimeout)");
            var output = server.Output;
            output.Should().NotContain("Failed to address message", "nothing is published to stream queues that are gone");
            output.Should().NotContainAny(["fail: ", "crit: "], "a clean shutdown logs no failure");
            foreach (var turn in turns)
            {
                var ended = await FluentActions.Awaiting(() => turn).Should().NotThrowAsync();
                ended.Which.StopReason.Should().Be("cancelled", "a turn the shutdown ends is cancelled, and its caller hears so");
            }
        }

        await using (var restarted = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"), data.Path))
        {
            await using var client = await AgentOsClient.ConnectAsync(restarted.ClientOptions);
            foreach (var (vmId, sessionId) in sessions)
            {
                var vm = client.Vm(vmId);
                var events = await vm.GetEventsAsync(sessionId);
                events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, events.Count).Select(i => (long)i));
                var turnEnd = events.Last(e => e.Method == AgentOsEventMethods.TurnEnd);
                var json = JsonDocument.Parse(turnEnd.Params).RootElement;
                json.GetProperty("stopReason").GetString().Should().Be("cancelled");
                json.GetProperty("reason").GetString().Should().Be("server_shutdown");
                events.Last().Method.Should().Be(AgentOsEventMethods.AgentExit, "the agent's exit is the last thing recorded");
                events.Should().NotContain(e => e.Method == AgentOsEventMethods.EventsLost);
                (await vm.ListPersistedSessionsAsync()).Single().Status.Should().Be(SessionStatus.Suspended);
            }
        }
    }
}
