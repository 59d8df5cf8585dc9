using System.Text.Json;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// The VM as an isolation boundary, with bubblewrap on (.ci/run installs it): each test has the agent
/// try, with its own file access and a shell, to reach what it must not, and checks it fails.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class SandboxTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Agents_RunUnderBubblewrap_AsAgentosInTheirHome()
    {
        var (vm, session) = await StartAsync();

        var start = (await vm.GetEventsAsync(session.SessionId)).First(e => e.Method == AgentOsEventMethods.AgentStart);
        JsonDocument.Parse(start.Params).RootElement.GetProperty("sandbox").GetString().Should().Be("bubblewrap",
            "bwrap must be installed for the escape tests (apt-get install bubblewrap; .ci/run does it)");
        (await Say(vm, session, "cwd")).Should().Be("/home/agentos");
        (await Say(vm, session, "sh id -un; id -u; hostname")).Should().Be("exit 0\nagentos\n1000\nagentos");
        (await Say(vm, session, "sh ls /proc | grep -c '^[0-9]'")).Should().MatchRegex(@"^exit 0\n[1-9]$", "the agent has its own pid namespace: a handful of processes, not the host's");
    }

    [Fact]
    public async Task Agent_CannotReadAnotherVmsHome()
    {
        var (first, firstSession) = await StartAsync();
        (await Say(first, firstSession, "sh echo first-vm-secret > /home/agentos/secret.txt && echo ok")).Should().Be("exit 0\nok");
        File.ReadAllText(Path.Combine(fixture.VmHome(first.Id), "secret.txt")).Should().Be("first-vm-secret\n", "the file is on disk under the VM's home");

        var (second, secondSession) = await StartAsync();
        (await Say(second, secondSession, "cat /home/agentos/secret.txt")).Should().StartWith("failed:");
        (await Say(second, secondSession, $"cat {Path.Combine(fixture.VmHome(first.Id), "secret.txt")}")).Should().StartWith("failed:");
        (await Say(second, secondSession, "sh ls -a /home")).Should().Be("exit 0\n.\n..\nagentos");
        (await Say(second, secondSession, "sh grep -rs --devices=skip first-vm-secret /home /tmp /etc /run /var; echo done")).Should().Be("exit 0\ndone",
            "nothing anywhere in the second VM's view holds the first VM's file");
    }

    [Fact]
    public async Task Agent_CannotReachTheServersDataOrDatabases_OrTheHostsRoot()
    {
        var (vm, session) = await StartAsync();
        var database = Path.Combine(fixture.DataDirectory, "vms", vm.Id, "vm.db");
        File.Exists(database).Should().BeTrue();

        (await Say(vm, session, $"cat {database}")).Should().StartWith("failed:");
        (await Say(vm, session, $"sh ls {fixture.DataDirectory}")).Should().StartWith("exit 2");
        (await Say(vm, session, "sh ls /root")).Should().StartWith("exit 2");
        // Of the host's other folders only the agent type's own program folder is there (read-only).
        (await Say(vm, session, $"sh ls /opt /srv /var/lib 2>&1 | grep -v 'No such file'; echo end")).Should().Be("exit 0\nend");
        (await Say(vm, session, $"sh ls {TestPaths.RepositoryRoot}")).Should().Be("exit 0\ntests");
        (await Say(vm, session, "sh cat /etc/shadow")).Should().StartWith("exit 1");
        (await Say(vm, session, "sh cat /etc/passwd")).Should().NotContain("cloudsdk").And.Contain("agentos:x:1000");
    }

    [Fact]
    public async Task Agent_CannotSeeTheServersEnvironment()
    {
        Environment.SetEnvironmentVariable("AGENTOS_SANDBOX_HOST_SECRET", "host-secret-4711");
        var (vm, session) = await StartAsync();

        (await Say(vm, session, "sh env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; echo end")).Should().NotContain("host-secret-4711");
        (await Say(vm, session, "sh env | cut -d= -f1 | sort | tr '\\n' ' '")).Should().Be("exit 0\nDOTNET_CLI_TELEMETRY_OPTOUT HOME LANG PATH PWD TERM",
            "the base environment is PATH, HOME, LANG, TERM plus the agent type's Env (the shell adds PWD)");
    }

    [Fact]
    public async Task Agent_CannotLeaveThroughSymlinksInItsHome()
    {
        var (other, otherSession) = await StartAsync();
        (await Say(other, otherSession, "sh echo other-secret > /home/agentos/s.txt && echo ok")).Should().Be("exit 0\nok");
        var otherFile = Path.Combine(fixture.VmHome(other.Id), "s.txt");

        var (vm, session) = await StartAsync();
        (await Say(vm, session, $"sh ln -s {otherFile} /home/agentos/to-other && ln -s {fixture.DataDirectory} /home/agentos/to-data && ln -s /etc/shadow /home/agentos/to-shadow && echo ok")).Should().Be("exit 0\nok");

        // Inside the sandbox the targets do not exist.
        (await Say(vm, session, "cat /home/agentos/to-other")).Should().StartWith("failed:");
        (await Say(vm, session, "sh ls /home/agentos/to-data/")).Should().StartWith("exit 2");
        // Through the server's fs/* handlers, which run on the host, symlinks leaving the home are refused.
        (await Say(vm, session, "read /home/agentos/to-other")).Should().StartWith("read failed:").And.NotContain("other-secret");
        (await Say(vm, session, "write /home/agentos/to-data/planted.txt x")).Should().StartWith("write failed:");
        File.Exists(Path.Combine(fixture.DataDirectory, "planted.txt")).Should().BeFalse();
        (await Say(vm, session, "read /home/agentos/../../etc/passwd")).Should().StartWith("read failed:");
    }

    [Fact]
    public async Task AnAgentTypeThatWouldExposeTheDataDirectory_IsRefused()
    {
        var vm = fixture.NewVm();

        var refused = await FluentActions.Awaiting(() => vm.CreateSessionAsync(TestAgents.ExposesDataDirectory)).Should().ThrowAsync<AgentOsException>();

        refused.Which.Message.Should().Contain("inside the server's data directory").And.Contain(TestAgents.ExposesDataDirectory);
        (await vm.ListPersistedSessionsAsync()).Should().BeEmpty("nothing was created");
    }

    [Fact]
    public async Task DotDot_InAVmIdOrACwd_IsRefused()
    {
        FluentActions.Invoking(() => fixture.Client.Vm("../escape")).Should().Throw<AgentOsException>()
            .Which.Code.Should().Be(AgentOsErrorCode.InvalidVmId);

        var vm = fixture.NewVm();
        var invalidCwd = await FluentActions.Awaiting(() => vm.CreateSessionAsync(TestAgents.Default, new CreateSessionOptions { Cwd = "/home/agentos/../../root" }))
            .Should().ThrowAsync<AgentOsException>();
        invalidCwd.Which.Code.Should().Be(AgentOsErrorCode.InvalidPath);
        Directory.Exists(Path.Combine(fixture.DataDirectory, "escape")).Should().BeFalse();
    }

    [Fact]
    public async Task FilesTheAgentWrites_PersistAcrossSleepAndWake_AndAreSharedBySessionsOfTheVm()
    {
        var (vm, session) = await StartAsync();
        (await Say(vm, session, "sh mkdir -p /home/agentos/project && echo kept > /home/agentos/project/notes.txt && echo t > /tmp/scratch && echo ok")).Should().Be("exit 0\nok");
        var neighbour = await vm.CreateSessionAsync(TestAgents.Default);
        (await Say(vm, neighbour, "cat /home/agentos/project/notes.txt")).Should().Be("kept\n");

        await vm.SleepAsync();
        await AgentProcesses.WaitForExitAsync(session.Info!.ProcessId);

        var woken = await vm.CreateSessionAsync(TestAgents.Default, new CreateSessionOptions { Cwd = "/home/agentos/project" });
        (await Say(vm, woken, "sh pwd; cat notes.txt; ls /tmp/scratch")).Should().Be(
            "exit 2\n/home/agentos/project\nkept\nls: cannot access '/tmp/scratch': No such file or directory", "the home persists, /tmp is private to each agent");
    }

    [Fact]
    public async Task Instructions_AreTheOsInstructionsPlusTheSessionsOwn_AsTheAgentTypeDeclares()
    {
        var vm = fixture.NewVm();
        var both = await vm.CreateSessionAsync(TestAgents.InstructionsAsFile, new CreateSessionOptions { AdditionalInstructions = "Answer in haiku." });
        var text = await Say(vm, both, "instructions");
        text.Should().Contain("You are a coding agent running inside an AgentOs VM").And.Contain("/home/agentos").And.EndWith("Answer in haiku.");

        var skipped = await vm.CreateSessionAsync(TestAgents.InstructionsAsEnv, new CreateSessionOptions { AdditionalInstructions = "Only this.", SkipOsInstructions = true });
        (await Say(vm, skipped, "instructions")).Should().Be("Only this.");

        var undeclared = await vm.CreateSessionAsync(TestAgents.Default, new CreateSessionOptions { AdditionalInstructions = "Lost?" });
        (await Say(vm, undeclared, "instructions")).Should().Be("<none>", "an agent type that declares no way to take instructions gets none");

        // Resume hands them over again (the options are stored, encrypted).
        await vm.CloseSessionAsync(both.SessionId);
        await vm.ResumeSessionAsync(both.SessionId);
        (await Say(vm, both, "instructions")).Should().EndWith("Answer in haiku.");
    }

    private async Task<(VmHandle Vm, SessionHandle Session)> StartAsync()
    {
        var vm = fixture.NewVm();
        return (vm, await vm.CreateSessionAsync(TestAgents.Default));
    }

    private static async Task<string> Say(VmHandle vm, SessionHandle session, string prompt) => (await vm.SendPromptAsync(session.SessionId, prompt)).Text;
}
