using System.Diagnostics;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>The server killed at any moment loses nothing a client saw; idle VMs go to sleep by themselves.</summary>
public sealed class CrashRecoveryTests
{
    [Fact]
    public async Task ServerKilledMidStream_AfterRestart_EveryEventAnySubscriberSawIsStored_GaplessAndTheSessionResumes()
    {
        using var data = new TempDirectory("agentos-crash");
        string sessionId;
        int agentPid;
        IReadOnlyList<SessionEvent> seen;

        await using (var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"), data.Path))
        {
            await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
            var vm = client.Vm("crash");
            using var live = await EventCollector.SubscribeAsync(vm);
            var session = await vm.CreateSessionAsync("mine");
            (sessionId, agentPid) = (session.SessionId, session.Info!.ProcessId);
            // The agent streams until a gate file that is never created: the turn is certainly still
            // running when the server is killed. (A fixed count raced the subscriber: under load the
            // server committed all of chunks 200000 before the subscriber had seen 5,000.)
            var streaming = vm.SendPromptAsync(sessionId, "chunks-until gate");

            await live.WaitForSeqAsync(sessionId, 5000);
            await server.KillAsync(); // SIGKILL, mid-stream
            seen = live.For(sessionId);
            // The SDK fails the in-flight call as soon as the connection drops (Orleans alone would wait hours).
            var failure = await FluentActions.Awaiting(() => streaming.WaitAsync(TestTimeouts.Default)).Should().ThrowAsync<AgentOsException>();
            failure.Which.Code.Should().Be(AgentOsErrorCode.ServerUnavailable);
        }

        await AgentProcesses.WaitForExitAsync(agentPid, killIfStillRunning: true); // orphaned by the SIGKILL: it exits when its stdin closes

        await using (var restarted = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"), data.Path))
        {
            await using var client = await AgentOsClient.ConnectAsync(restarted.ClientOptions);
            var vm = client.Vm("crash");

            var stored = await vm.GetEventsAsync(sessionId);
            var persisted = (await vm.ListPersistedSessionsAsync()).Single();

            seen.Count.Should().BeGreaterThanOrEqualTo(5000);
            stored.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, stored.Count).Select(i => (long)i), "seq is gapless after a crash");
            stored.Take(seen.Count).Should().Equal(seen, "every event a subscriber received is stored, with the same seq and content");
            persisted.Status.Should().Be(SessionStatus.Suspended, "a restart leaves every VM asleep");
            (await vm.ListSessionsAsync()).Should().BeEmpty("reading history after a restart starts no agent");

            var reply = await vm.SendPromptAsync(sessionId, "still there?");
            reply.Text.Should().StartWith("echo: still there?");
            var after = await vm.GetEventsAsync(sessionId);
            after.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, after.Count).Select(i => (long)i), "seq continues after the crash");
        }
    }

    [Fact]
    public async Task IdleVm_FallsAsleepByItself_StoppingItsAgents_AndWakesOnTheNextCall()
    {
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__VmIdleTimeout"] = "00:00:02";
        await using var server = await ServerProcess.StartAsync(env);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("idle");
        var session = await vm.CreateSessionAsync("mine");
        await vm.SendPromptAsync(session.SessionId, "hello");

        // No more calls: the grain deactivates after the idle timeout and stops the agent.
        using var agent = Process.GetProcessById(session.Info!.ProcessId);
        await agent.WaitForExitAsync().WaitAsync(TestTimeouts.Default);

        (await vm.ListPersistedSessionsAsync()).Single().Status.Should().Be(SessionStatus.Suspended);
        server.Output.Should().Contain("VM idle: deactivating");
        (await vm.SendPromptAsync(session.SessionId, "awake?")).Text.Should().StartWith("echo: awake?");
    }
}
