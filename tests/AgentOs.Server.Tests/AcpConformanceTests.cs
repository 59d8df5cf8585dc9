using System.Text.Json;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 15, conformance: every optional field of ACP v1 is optional in fact. Before, an agent whose
/// <c>initialize</c> result left out <c>agentCapabilities</c> could not start a session
/// (<c>AgentStartFailed: Operation is not valid due to the current state of the object.</c>).
/// </summary>
public sealed class AcpConformanceTests
{
    [Theory]
    [InlineData("--minimal")]
    [InlineData("--sparse-capabilities")]
    public async Task AnAgentSendingOnlyRequiredFields_Streams_Resumes_AndReportsNoCapabilities(string mode)
    {
        await using var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("minimal", mode));
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("minimal");

        var session = await vm.CreateSessionAsync("minimal");

        session.Info!.Capabilities.SessionResume.Should().BeFalse();
        session.Info!.Capabilities.PromptImage.Should().BeFalse();
        (await session.SendPromptAsync("chunks 3")).StopReason.Should().Be("end_turn");
        (await vm.GetModesAsync(session.SessionId)).Should().BeNull("the agent reported no modes");
        (await vm.GetConfigOptionsAsync(session.SessionId)).Should().BeEmpty();

        await vm.CloseSessionAsync(session.SessionId);
        await vm.ResumeSessionAsync(session.SessionId);
        (await vm.Session(session.SessionId).SendPromptAsync("ping")).Text.Should().StartWith("echo: ping", "no session/load or session/resume: the transcript is replayed into a new session");
    }

    [Fact]
    public async Task CloseSession_SendsSessionClose_ToAnAgentThatAdvertisesIt_ButSleepDoesNot()
    {
        await using var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("closing", "--session-close"));
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("closing");
        var slept = await vm.CreateSessionAsync("closing");
        await vm.SleepAsync();
        await vm.ResumeSessionAsync(slept.SessionId);
        await vm.CloseSessionAsync(slept.SessionId);

        var exits = (await vm.GetEventsAsync(slept.SessionId)).Where(e => e.Method == AgentOsEventMethods.AgentExit)
            .Select(e => JsonDocument.Parse(e.Params).RootElement.GetProperty("stderrTail").GetString()).ToList();
        exits.Should().HaveCount(2);
        exits[0].Should().NotContain("session/close", "a VM going to sleep keeps its sessions");
        exits[1].Should().Contain($"session/close ts-", "a closed session is closed in the agent before it stops");
        exits[1].Should().NotContain("session/delete");

        var destroyed = await vm.CreateSessionAsync("closing");
        await vm.DestroySessionAsync(destroyed.SessionId);
        await Poll.UntilAsync(() => server.Output.Contains("session/delete ts-", StringComparison.Ordinal), "a destroyed session is deleted in the agent (its stderr reaches the server's log)");
    }

    [Fact]
    public async Task AMaximalAgent_WithMetaEverywhere_UnknownFields_AndUnknownNotifications_WorksAndIsRecorded()
    {
        await using var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("maximal", "--maximal"));
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("maximal");
        var session = await vm.CreateSessionAsync("maximal");

        session.Info!.Capabilities.PromptImage.Should().BeTrue();
        session.Info.Capabilities.McpSse.Should().BeTrue();
        (await session.SendPromptAsync("future")).Text.Should().Be("after the future");
        (await session.SendPromptAsync("chunks 3")).StopReason.Should().Be("end_turn", "what the host did not know was not fatal");

        var events = await vm.GetEventsAsync(session.SessionId);
        events.Should().Contain(e => e.GetUpdateKind() == "future_kind", "an update kind the host does not know is recorded as it came");
        events.Should().Contain(e => e.Method == "session/future_notification", "so is a notification it does not know");
        events.Should().Contain(e => e.Method == "_vendor.example/announce", "and an extension notification");
        await vm.CloseSessionAsync(session.SessionId);
    }

    [Fact]
    public async Task TokenUsageAndTitle_ReachThePromptResult_AndTheListing_SummedOverTheSession_AfterARestartToo()
    {
        using var data = new TempDirectory("agentos-usage");
        await using (var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"), data.Path))
        {
            await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
            var vm = client.Vm("usage");
            var session = await vm.CreateSessionAsync("mine");
            (await session.GetUsageAsync()).TurnsWithUsage.Should().Be(0);

            var first = await session.SendPromptAsync("usage");
            await session.SendPromptAsync("ping"); // a turn without usage counts for nothing
            await session.SendPromptAsync("usage");
            await session.SendPromptAsync("title Usage report");

            first.Usage.Should().BeEquivalentTo(new TokenUsage { InputTokens = 100, OutputTokens = 20, TotalTokens = 125, ThoughtTokens = 5 });
            await server.KillAsync(); // nothing held in memory survives: what follows is read from vm.db
        }

        await using var restarted = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"), data.Path);
        await using var again = await AgentOsClient.ConnectAsync(restarted.ClientOptions);
        var persisted = (await again.Vm("usage").ListPersistedSessionsAsync()).Single();
        var usage = await again.Vm("usage").GetUsageAsync(persisted.SessionId);

        usage.TurnsWithUsage.Should().Be(2);
        usage.Tokens.Should().BeEquivalentTo(new TokenUsage { InputTokens = 200, OutputTokens = 40, TotalTokens = 250, ThoughtTokens = 10 });
        usage.ContextUsed.Should().Be(2400, "the last usage_update's");
        usage.ContextSize.Should().Be(200_000);
        usage.Cost.Should().Be(0.5);
        usage.CostCurrency.Should().Be("USD");
        persisted.Title.Should().Be("Usage report", "the agent's session_info_update");
        persisted.Usage.Should().BeEquivalentTo(usage, "the listing carries the session's use");
    }

    [Fact]
    public async Task PromptsBeyondText_ReachTheAgentAsAcpBlocks_AndABlockItCannotTakeIsRefusedNamingTheCapability()
    {
        var env = TestAgents.AsEnvironment("mine");
        foreach (var (key, value) in TestAgents.AsEnvironment("maximal", "--maximal"))
        {
            env[key] = value;
        }

        await using var server = await ServerProcess.StartAsync(env);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("content");
        var textOnly = await vm.CreateSessionAsync("mine"); // embeddedContext, no image, no audio
        var all = await vm.CreateSessionAsync("maximal");
        var png = new byte[] { 0x89, 0x50, 0x4e, 0x47 };

        (await textOnly.SendPromptAsync([PromptContent.FromText("look"), PromptContent.Resource("file:///home/agentos/a.md", "# A"), PromptContent.Link("file:///home/agentos/b.md", "b.md")]))
            .Text.Should().Be("echo: look[resource file:///home/agentos/a.md 3][resource_link file:///home/agentos/b.md 4]");
        var refused = (await textOnly.Invoking(s => s.SendPromptAsync([PromptContent.FromText("see"), PromptContent.Image(png, "image/png")])).Should().ThrowAsync<AgentOsException>()).Which;
        refused.Code.Should().Be(AgentOsErrorCode.InvalidArgument);
        refused.Message.Should().Contain("promptCapabilities.image");
        (await all.SendPromptAsync([PromptContent.FromText("see"), PromptContent.Image(png, "image/png"), PromptContent.Audio(png, "audio/wav")]))
            .Text.Should().Be("echo: see[image image/png 8][audio audio/wav 8]");
        (await textOnly.Invoking(s => s.SendPromptAsync([PromptContent.Image(png, "image/png")])).Should().ThrowAsync<AgentOsException>())
            .Which.Message.Should().Contain("at least one text block");

        var recorded = (await vm.GetEventsAsync(all.SessionId)).Last(e => e.Method == AgentOsEventMethods.Prompt);
        JsonDocument.Parse(recorded.Params).RootElement.GetProperty("prompt")[1].GetProperty("type").GetString().Should().Be("image", "the transcript keeps the blocks as sent");
    }
}
