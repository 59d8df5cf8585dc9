using System.Diagnostics;
using System.Text.Json;
using AgentOs.Client;
using AgentOs.Hosting;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>An agent that ignores session/cancel does not hang the turn, the queue or the session.</summary>
[Collection(ClusterCollection.Name)]
public sealed class CancelGraceTests(ClusterFixture fixture)
{
    [Fact]
    public async Task CancelPrompt_OnAnAgentThatIgnoresIt_EndsTheTurnAfterTheGracePeriod_RestartsTheAgent_AndQueuedPromptsRunInOrder()
    {
        var vm = fixture.NewVm();
        using var live = await EventCollector.SubscribeAsync(vm);
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var running = vm.SendPromptAsync(session.SessionId, "ignore-cancel 60000");
        await live.WaitForAsync(e => e.SessionId == session.SessionId && e.GetText() == "tick ", "the first tick of the running turn");
        var first = vm.SendPromptAsync(session.SessionId, "first after");
        await live.WaitForAsync(e => e.SessionId == session.SessionId && e.Method == AgentOsEventMethods.PromptQueued && e.Params.Contains("\"position\":1"), "the first queued prompt");
        var second = vm.SendPromptAsync(session.SessionId, "second after");
        await live.WaitForAsync(e => e.SessionId == session.SessionId && e.Method == AgentOsEventMethods.PromptQueued && e.Params.Contains("\"position\":2"), "the second queued prompt");

        var clock = Stopwatch.StartNew();
        await vm.CancelPromptAsync(session.SessionId);
        var cancelled = await running.WaitAsync(TestTimeouts.Default);
        var cancelTook = clock.Elapsed;

        cancelled.StopReason.Should().Be("cancelled");
        cancelled.Text.Should().StartWith("tick ");
        cancelTook.Should().BeGreaterThanOrEqualTo(ClusterFixture.CancelGracePeriod - TimeSpan.FromMilliseconds(50), "the agent gets the grace period")
            .And.BeLessThan(ClusterFixture.CancelGracePeriod + TimeSpan.FromSeconds(5));
        var firstResult = await first.WaitAsync(TestTimeouts.Default);
        var secondResult = await second.WaitAsync(TestTimeouts.Default);
        firstResult.Text.Should().StartWith("echo: first after", "the restored agent gets the earlier conversation along with this prompt");
        secondResult.Text.Should().Be("echo: second after");
        secondResult.LastSeq.Should().BeGreaterThan(firstResult.LastSeq);
        await AgentProcesses.WaitForExitAsync(session.Info!.ProcessId, killIfStillRunning: true);

        var events = await vm.GetEventsAsync(session.SessionId);
        var forced = JsonDocument.Parse(events.Single(e => e.Seq == cancelled.LastSeq).Params).RootElement;
        forced.GetProperty("stopReason").GetString().Should().Be("cancelled");
        forced.GetProperty("forced").GetBoolean().Should().BeTrue();
        forced.GetProperty("graceMs").GetInt64().Should().Be((long)ClusterFixture.CancelGracePeriod.TotalMilliseconds);
        var restart = events.Single(e => e.Method == AgentOsEventMethods.AgentRestart);
        restart.Params.Should().Contain("\"reason\":\"cancel_ignored\"").And.Contain($"\"pid\":{session.Info!.ProcessId}");
        events.Where(e => e.Method is AgentOsEventMethods.TurnEnd or AgentOsEventMethods.AgentRestart or AgentOsEventMethods.AgentExit or AgentOsEventMethods.Resume
                || (e.Method == AgentOsEventMethods.Prompt && PromptText(e) != "ignore-cancel 60000"))
            .Select(e => e.Method)
            .Should().Equal(
                AgentOsEventMethods.TurnEnd,
                AgentOsEventMethods.AgentRestart,
                AgentOsEventMethods.AgentExit,
                AgentOsEventMethods.Resume,
                AgentOsEventMethods.Prompt,
                AgentOsEventMethods.TurnEnd,
                AgentOsEventMethods.Prompt,
                AgentOsEventMethods.TurnEnd);

        var restartedPid = JsonDocument.Parse(events.Last(e => e.Method == AgentOsEventMethods.AgentStart).Params).RootElement.GetProperty("pid").GetInt32();
        restartedPid.Should().NotBe(session.Info!.ProcessId);
        await vm.CloseSessionAsync(session.SessionId);
        await AgentProcesses.WaitForExitAsync(restartedPid, killIfStillRunning: true);
    }

    [Fact]
    public async Task CancelPrompt_WhenTheAgentEndsTheTurnLate_ItsLateAnswerIsIgnored_AndTheAgentIsKept()
    {
        var vm = fixture.NewVm();
        using var live = await EventCollector.SubscribeAsync(vm);
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        // Ends its turn when the gate opens: after the grace period (the turn is already forced), well before the
        // restart that would follow it.
        var running = vm.SendPromptAsync(session.SessionId, "ignore-cancel-until gate");
        await live.WaitForAsync(e => e.SessionId == session.SessionId && e.GetText() == "tick ", "the first tick of the running turn");

        await vm.CancelPromptAsync(session.SessionId);
        var cancelled = await running.WaitAsync(TestTimeouts.Default);
        File.WriteAllText(Path.Combine(fixture.VmHome(vm.Id), "gate"), "open");
        var next = await vm.SendPromptAsync(session.SessionId, "after").WaitAsync(TestTimeouts.Default);

        cancelled.StopReason.Should().Be("cancelled");
        next.StopReason.Should().Be("end_turn");
        next.Text.Should().Be("echo: after", "the same agent, not a restored one");
        var events = await vm.GetEventsAsync(session.SessionId);
        events.Single(e => e.Seq == cancelled.LastSeq).Params.Should().Contain("\"forced\":true");
        events.Count(e => e.Method == AgentOsEventMethods.TurnEnd).Should().Be(2, "the agent's late end_turn is not a second turn end");
        events.Should().NotContain(e => e.Method == AgentOsEventMethods.AgentRestart || e.Method == AgentOsEventMethods.AgentExit);
        (await vm.ListSessionsAsync()).Should().Contain(session.SessionId);
        await vm.CloseSessionAsync(session.SessionId);
        await AgentProcesses.WaitForExitAsync(session.Info!.ProcessId, killIfStillRunning: true);
    }

    [Fact]
    public async Task CancelPrompt_OnAnAgentThatHonoursIt_IsNotForced()
    {
        var vm = fixture.NewVm();
        using var live = await EventCollector.SubscribeAsync(vm);
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var running = vm.SendPromptAsync(session.SessionId, "sleep 20000");
        await live.WaitForAsync(e => e.SessionId == session.SessionId && e.GetText() == "tick ", "the first tick of the running turn");

        await vm.CancelPromptAsync(session.SessionId);
        var cancelled = await running.WaitAsync(TestTimeouts.Default);

        cancelled.StopReason.Should().Be("cancelled");
        (await vm.GetEventsAsync(session.SessionId)).Single(e => e.Seq == cancelled.LastSeq).Params.Should().Be("{\"stopReason\":\"cancelled\"}");
        (await vm.SendPromptAsync(session.SessionId, "again")).Text.Should().Be("echo: again");
    }

    [Fact]
    public void CancelGracePeriod_DefaultsTo5Seconds() => new AgentOsOptions().CancelGracePeriod.Should().Be(TimeSpan.FromSeconds(5));

    private static string? PromptText(SessionEvent e) =>
        JsonDocument.Parse(e.Params).RootElement.GetProperty("prompt")[0].GetProperty("text").GetString();
}
