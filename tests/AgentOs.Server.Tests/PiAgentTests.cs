using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AgentOs.Server.Tests;

/// <summary>A server whose built-in <c>pi</c> agent type installs on first use and talks to the fake LLM's chat completions.</summary>
public sealed class PiFixture() : RealAgentFixture("pi");

[CollectionDefinition(Name)]
public sealed class PiCollection : ICollectionFixture<PiFixture>
{
    public const string Name = "pi";
}

/// <summary>
/// The real pi agent (pi-acp 0.0.24 + pi-coding-agent 0.73.1) in a bubblewrap VM, against the fake LLM's chat
/// completions (a provider in <c>~/.pi/agent/models.json</c>): the agent matrix, and what is pi's own. It writes files
/// itself (its write tool) and has no permission requests.
/// </summary>
[Collection(PiCollection.Name)]
public sealed class PiAgentTests(PiFixture fixture, ITestOutputHelper output) : AgentMatrixTests(fixture, output)
{
    protected override string LlmApi => "chat";

    protected override FileWrite Writes => FileWrite.ByTheAgent;

    protected override bool AsksPermission => false;

    [Fact]
    public async Task FirstUse_InstallsPiOnce_EvenWhenTwoSessionsAskAtOnce()
    {
        var sessions = await Task.WhenAll(fixture.CreateSessionAsync(), fixture.CreateSessionAsync());

        var software = Path.Combine(fixture.DataDirectory, "software");
        Directory.GetDirectories(software).Should().ContainSingle(d => Path.GetFileName(d).StartsWith("pi-", StringComparison.Ordinal),
            "one install serves both sessions, and no temporary folder is left behind");
        sessions.Should().OnlyContain(s => s.Info!.AgentInfo!.Name == "pi-acp");
    }

    [Fact]
    public async Task AFileItWrites_IsSeenByItsVmsOtherSessions_NotByAnotherVm()
    {
        var vm = fixture.NewVm();
        var pi = await fixture.CreateSessionAsync(vm);

        var reply = await pi.SendPromptAsync("write file hello.txt written by pi");
        reply.StopReason.Should().Be("end_turn");
        File.ReadAllText(Path.Combine(fixture.VmHome(vm.Id), "hello.txt")).Should().Be("written by pi", "a relative path is the VM's home, pi's cwd");

        var neighbour = await vm.CreateSessionAsync(TestAgents.Default);
        (await vm.SendPromptAsync(neighbour.SessionId, "cat /home/agentos/hello.txt")).Text.Should().Be("written by pi");

        var otherVm = fixture.NewVm();
        var stranger = await otherVm.CreateSessionAsync(TestAgents.Default);
        (await otherVm.SendPromptAsync(stranger.SessionId, "cat /home/agentos/hello.txt")).Text.Should().StartWith("failed:");
    }

    [Fact]
    public async Task Instructions_ReachPisSystemPrompt()
    {
        var before = fixture.Llm.Requests().Count;
        var pi = await fixture.CreateSessionAsync(options: new CreateSessionOptions { AdditionalInstructions = "Always answer like a pirate." });

        await pi.SendPromptAsync("Say hello");

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
