using System.Text.Json;
using AgentOs.Client;
using AgentOs.Hosting;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>Prompts sent while a turn runs wait in a bounded first-in, first-out queue.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PromptQueueTests(ClusterFixture fixture)
{
    [Fact]
    public async Task SendPrompt_WhileTurnRuns_IsQueued_AndRunsAfterIt_EachCallGettingItsOwnResult()
    {
        var vm = fixture.NewVm();
        using var live = await EventCollector.SubscribeAsync(vm);
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var first = vm.SendPromptAsync(session.SessionId, "ignore-cancel-until gate"); // ticks until the test opens the gate
        await live.WaitForAsync(e => e.SessionId == session.SessionId && e.GetText() == "tick ", "the first tick of the running turn");

        var second = vm.SendPromptAsync(session.SessionId, "queued words");
        var queued = await live.WaitForAsync(e => e.SessionId == session.SessionId && e.Method == AgentOsEventMethods.PromptQueued, "the queued prompt");

        second.IsCompleted.Should().BeFalse("it waits for the running turn");
        File.WriteAllText(Path.Combine(fixture.VmHome(vm.Id), "gate"), "open");
        var firstResult = await first.WaitAsync(TestTimeouts.Default);
        var secondResult = await second.WaitAsync(TestTimeouts.Default);
        firstResult.StopReason.Should().Be("end_turn");
        firstResult.Text.Should().StartWith("tick ");
        secondResult.StopReason.Should().Be("end_turn");
        secondResult.Text.Should().Be("echo: queued words");
        secondResult.LastSeq.Should().BeGreaterThan(firstResult.LastSeq);

        var queuedParams = JsonDocument.Parse(queued.Params).RootElement;
        queuedParams.GetProperty("position").GetInt32().Should().Be(1);
        queuedParams.GetProperty("prompt")[0].GetProperty("text").GetString().Should().Be("queued words");
        var turns = (await vm.GetEventsAsync(session.SessionId))
            .Where(e => e.Method is AgentOsEventMethods.Prompt or AgentOsEventMethods.PromptQueued or AgentOsEventMethods.TurnEnd)
            .Select(e => e.Method == AgentOsEventMethods.Prompt ? $"prompt {JsonDocument.Parse(e.Params).RootElement.GetProperty("prompt")[0].GetProperty("text").GetString()}" : e.Method)
            .ToList();
        turns.Should().Equal(
            "prompt ignore-cancel-until gate",
            AgentOsEventMethods.PromptQueued,
            AgentOsEventMethods.TurnEnd,
            "prompt queued words",
            AgentOsEventMethods.TurnEnd);
    }

    [Fact]
    public async Task SendPrompt_PastTheQueueBound_ThrowsSessionBusy_AndTheQueuedOnesRunInOrder()
    {
        var vm = fixture.NewVm();
        using var live = await EventCollector.SubscribeAsync(vm);
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var running = vm.SendPromptAsync(session.SessionId, "sleep 20000");
        await live.WaitForAsync(e => e.SessionId == session.SessionId && e.GetText() == "tick ", "the first tick of the running turn");
        var queued = new List<Task<PromptResult>>();
        for (var i = 1; i <= ClusterFixture.MaxQueuedPrompts; i++)
        {
            queued.Add(vm.SendPromptAsync(session.SessionId, $"q{i}"));
            var position = i;
            await live.WaitForAsync(e => e.SessionId == session.SessionId && e.Method == AgentOsEventMethods.PromptQueued && e.Params.Contains($"\"position\":{position}"), $"queued prompt {i}");
        }

        var oneTooMany = () => vm.SendPromptAsync(session.SessionId, "no room");

        var error = (await oneTooMany.Should().ThrowAsync<AgentOsException>()).Which;
        error.Code.Should().Be(AgentOsErrorCode.SessionBusy);
        error.Message.Should().Contain("queue is full").And.Contain($"{ClusterFixture.MaxQueuedPrompts} of {ClusterFixture.MaxQueuedPrompts}");
        var sleep = () => vm.SleepAsync();
        (await sleep.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.SessionBusy, "queued prompts keep the VM awake");

        await vm.CancelPromptAsync(session.SessionId);
        (await running.WaitAsync(TestTimeouts.Default)).StopReason.Should().Be("cancelled");
        var results = await Task.WhenAll(queued).WaitAsync(TestTimeouts.Default);
        results.Select(r => r.Text).Should().Equal(Enumerable.Range(1, ClusterFixture.MaxQueuedPrompts).Select(i => $"echo: q{i}"));
        results.Select(r => r.LastSeq).Should().BeInAscendingOrder();
        (await vm.GetEventsAsync(session.SessionId)).Should().NotContain(e => e.Params.Contains("no room"), "a refused prompt leaves no trace");
    }

    [Fact]
    public async Task CancelPrompt_WithAPromptQueued_CancelsOnlyTheRunningTurn_TheQueuedOneThenCompletes()
    {
        var vm = fixture.NewVm();
        using var live = await EventCollector.SubscribeAsync(vm);
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var running = vm.SendPromptAsync(session.SessionId, "sleep 20000");
        await live.WaitForAsync(e => e.SessionId == session.SessionId && e.GetText() == "tick ", "the first tick of the running turn");
        var next = vm.SendPromptAsync(session.SessionId, "after the cancel");
        await live.WaitForAsync(e => e.SessionId == session.SessionId && e.Method == AgentOsEventMethods.PromptQueued, "the queued prompt");

        await vm.CancelPromptAsync(session.SessionId);

        (await running.WaitAsync(TestTimeouts.Default)).StopReason.Should().Be("cancelled");
        var result = await next.WaitAsync(TestTimeouts.Default);
        result.StopReason.Should().Be("end_turn");
        result.Text.Should().Be("echo: after the cancel");
    }

    [Fact]
    public void MaxQueuedPrompts_DefaultsTo16() => new AgentOsOptions().MaxQueuedPrompts.Should().Be(16);
}
