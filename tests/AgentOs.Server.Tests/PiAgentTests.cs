using System.Text.Json;
using AgentOs.Client;
using AgentOs.Hosting;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// A server whose built-in <c>pi</c> agent type installs from npm on first use (into this fixture's
/// data directory) and talks to a fake LLM served by the tests on loopback. No API key, no internet
/// but the npm registry.
/// </summary>
public sealed class PiFixture : ClusterFixture
{
    public FakeLlm Llm { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        Llm = await FakeLlm.StartAsync();
        await base.InitializeAsync();
    }

    protected override void Configure(AgentOsOptions options)
    {
        options.NewSessionTimeout = TimeSpan.FromSeconds(60); // pi's own start takes seconds on a busy machine
        options.SandboxAllowHostPorts.Add(Llm.Port); // the fake LLM on the host's loopback, as a local LLM gateway would be
    }

    /// <summary>A VM whose home holds pi's provider config for the fake LLM, as a user would provision it.</summary>
    public VmHandle NewPiVm()
    {
        var vm = NewVm();
        Llm.WritePiConfig(Path.Combine(VmHome(vm.Id), ".pi", "agent"));
        return vm;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Llm.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class PiCollection : ICollectionFixture<PiFixture>
{
    public const string Name = "pi";
}

/// <summary>The real pi agent (pi-acp 0.0.24 + pi-coding-agent 0.73.1) in a bubblewrap VM, against the fake LLM.</summary>
[Collection(PiCollection.Name)]
public sealed class PiAgentTests(PiFixture fixture)
{
    [Fact]
    public async Task FirstUse_InstallsPiOnce_EvenWhenTwoSessionsAskAtOnce_ThenAPlainPromptStreamsText()
    {
        var first = fixture.NewPiVm();
        var second = fixture.NewPiVm();
        var sessions = await Task.WhenAll(first.CreateSessionAsync("pi"), second.CreateSessionAsync("pi"));

        var software = Path.Combine(fixture.DataDirectory, "software");
        Directory.GetDirectories(software).Should().ContainSingle(d => Path.GetFileName(d).StartsWith("pi-", StringComparison.Ordinal),
            "one install serves both sessions, and no temporary folder is left behind");
        sessions[0].Info!.AgentInfo!.Name.Should().Be("pi-acp");

        var reply = await first.SendPromptAsync(sessions[0].SessionId, "Say hello");
        reply.StopReason.Should().Be("end_turn");
        reply.Text.Should().Contain("Hello from the fake LLM.");
        var events = await first.GetEventsAsync(sessions[0].SessionId);
        events.Count(e => e.GetUpdateKind() == "agent_message_chunk").Should().BeGreaterThan(1, "the text streams in chunks");
        JsonDocument.Parse(events.First(e => e.Method == AgentOsEventMethods.AgentStart).Params).RootElement.GetProperty("sandbox").GetString().Should().Be("bubblewrap");
    }

    [Fact]
    public async Task AFileThePiAgentWrites_IsInTheVm_SeenByItsOtherSessions_NotByAnotherVm()
    {
        var vm = fixture.NewPiVm();
        var pi = await vm.CreateSessionAsync("pi");

        var reply = await vm.SendPromptAsync(pi.SessionId, "write file hello.txt written by pi");
        reply.StopReason.Should().Be("end_turn");
        File.ReadAllText(Path.Combine(fixture.VmHome(vm.Id), "hello.txt")).Should().Be("written by pi", "pi's write tool wrote into the VM's home on disk");
        (await vm.GetEventsAsync(pi.SessionId)).Should().Contain(e => e.GetUpdateKind() == "tool_call");

        var neighbour = await vm.CreateSessionAsync(TestAgents.Default);
        (await vm.SendPromptAsync(neighbour.SessionId, "cat /home/agentos/hello.txt")).Text.Should().Be("written by pi");

        var otherVm = fixture.NewVm();
        var stranger = await otherVm.CreateSessionAsync(TestAgents.Default);
        (await otherVm.SendPromptAsync(stranger.SessionId, "cat /home/agentos/hello.txt")).Text.Should().StartWith("failed:");
    }

    [Fact]
    public async Task ASlowStream_IsCancelled_AndTheSessionGoesOn()
    {
        var vm = fixture.NewPiVm();
        var pi = await vm.CreateSessionAsync("pi");
        using var live = await EventCollector.SubscribeAsync(vm);

        var prompt = vm.SendPromptAsync(pi.SessionId, "Tell it slow please");
        await live.WaitForAsync(e => e.SessionId == pi.SessionId && e.GetUpdateKind() == "agent_message_chunk", "a first chunk of the slow stream");
        await vm.CancelPromptAsync(pi.SessionId);

        var cancelled = await prompt.WaitAsync(TestTimeouts.Default);
        cancelled.StopReason.Should().Be("cancelled");
        await Poll.UntilAsync(() => fixture.Llm.Events().Any(e => e.Event == "client_closed" && e.Rule == "slow"), "pi closes the LLM stream on cancel");
        (await vm.SendPromptAsync(pi.SessionId, "Say hello again")).Text.Should().Contain("Hello from the fake LLM.");
    }

    [Fact]
    public async Task AfterSleepAndResume_TheLlmReceivesTheEarlierConversation()
    {
        var vm = fixture.NewPiVm();
        var pi = await vm.CreateSessionAsync("pi");
        await vm.SendPromptAsync(pi.SessionId, "Remember the word pineapple-7");

        await vm.SleepAsync();
        await AgentProcesses.WaitForExitAsync(pi.Info!.ProcessId);

        var before = fixture.Llm.Requests().Count;
        var reply = await vm.SendPromptAsync(pi.SessionId, "Which word did I ask you to remember?");
        reply.StopReason.Should().Be("end_turn");
        var request = fixture.Llm.Requests().Skip(before).Last().GetRawText();
        request.Should().Contain("pineapple-7").And.Contain("Which word did I ask you to remember?");
        (await vm.GetEventsAsync(pi.SessionId)).Should().Contain(e => e.Method == AgentOsEventMethods.Resume && e.Params.Contains("\"restore\":\"load\""));
    }

    [Fact]
    public async Task Instructions_ReachPisSystemPrompt()
    {
        var vm = fixture.NewPiVm();
        var pi = await vm.CreateSessionAsync("pi", new CreateSessionOptions { AdditionalInstructions = "Always answer like a pirate." });
        var before = fixture.Llm.Requests().Count;

        await vm.SendPromptAsync(pi.SessionId, "Say hello");

        var system = fixture.Llm.Requests().Skip(before).First().EnumerateArray().First(m => m.GetProperty("role").GetString() == "system").GetRawText();
        system.Should().Contain("Always answer like a pirate.").And.Contain("running inside an AgentOs VM");
    }

    [Fact]
    public async Task WithoutAnyCredentials_CreateSessionFailsClearly_BeforeSpawning()
    {
        var vm = fixture.NewVm(); // no models.json, no API key

        var failure = await FluentActions.Awaiting(() => vm.CreateSessionAsync("pi")).Should().ThrowAsync<AgentOsException>();

        failure.Which.Code.Should().Be(AgentOsErrorCode.MissingCredentials);
        failure.Which.Message.Should().Contain("OPENAI_API_KEY").And.Contain("/home/agentos/.pi/agent/models.json");
    }
}
