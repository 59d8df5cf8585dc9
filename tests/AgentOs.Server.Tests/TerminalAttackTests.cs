using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// A hostile agent's other way out: the commands it asks the client to run (ACP <c>terminal/create</c>). Each attack an agent
/// is tested with in <see cref="SandboxTests"/> and <see cref="NetworkAttackTests"/> is made here from a terminal, and must fail
/// the same way: a terminal sees what its agent sees and nothing more.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class TerminalAttackTests(ClusterFixture fixture)
{
    /// <summary>Files: the server's data, its databases, another VM, the host's secrets and environment.</summary>
    [Fact]
    public async Task ATerminalCommand_CannotReadTheServersDataAnotherVmOrTheHostsSecrets()
    {
        Environment.SetEnvironmentVariable("AGENTOS_TERMINAL_HOST_SECRET", "host-secret-4712");
        var other = fixture.NewVm();
        var otherSession = await other.CreateSessionAsync(TestAgents.Default);
        (await otherSession.SendPromptAsync("sh echo other-vm-secret > /home/agentos/secret.txt && echo ok")).Text.Should().Be("exit 0\nok");
        var otherFile = Path.Combine(fixture.VmHome(other.Id), "secret.txt");
        File.ReadAllText(otherFile).Should().Be("other-vm-secret\n");
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var database = Path.Combine(fixture.DataDirectory, "vms", vm.Id, "vm.db");

        (await Terminal(session, $"cat {database}")).Should().StartWith("exit 1\n").And.Contain("No such file");
        (await Terminal(session, $"cat {otherFile}")).Should().StartWith("exit 1\n").And.Contain("No such file");
        (await Terminal(session, $"ls {fixture.DataDirectory}")).Should().StartWith("exit 2\n");
        (await Terminal(session, "grep -rs --devices=skip other-vm-secret /home /tmp /etc /run /var; echo done")).Should().Be("exit 0\ndone\n");
        (await Terminal(session, "ls /root")).Should().StartWith("exit 2\n");
        (await Terminal(session, "cat /etc/shadow")).Should().StartWith("exit 1\n");
        (await Terminal(session, "ls -a /home")).Should().Be("exit 0\n.\n..\nagentos\n");
        (await Terminal(session, "env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'")).Should().NotContain("host-secret-4712");
        (await Terminal(session, "env | cut -d= -f1 | sort | tr '\\n' ' '")).Should().Be("exit 0\nDOTNET_CLI_TELEMETRY_OPTOUT HOME LANG PATH PWD TERM ",
            "the agent's environment, as SandboxTests finds it: PATH, HOME, LANG, TERM and its type's Env (the shell adds PWD)");
        (await Terminal(session, "ln -s /etc/shadow /home/agentos/to-shadow && ln -s /root /home/agentos/to-root && cat /home/agentos/to-shadow; ls /home/agentos/to-root/")).Should().NotStartWith("exit 0");
    }

    private static async Task<string> Terminal(SessionHandle session, string command) => (await session.SendPromptAsync($"terminal {command}")).Text;

    /// <summary>The network: the control plane and the host's services, from a terminal of a real server's sandboxed agent.</summary>
    [Fact]
    public Task FromATerminal_TheServersPortsAndTheHostsServicesAreRefused_AnAllowListedPortIsReached() =>
        HostNetworkAttack.RunAsync("terminal-attacker", "terminal", "a terminal");

    /// <summary>Without bubblewrap: a terminal is confined as its agent is there, an emptied environment, and its processes end with it.</summary>
    [Fact]
    public async Task AsHostProcesses_ATerminalGetsTheAgentsEnvironmentOnly_AndNothingItStartsOutlivesIt()
    {
        using var data = new TempDirectory("agentos-terminal-host");
        Environment.SetEnvironmentVariable("AGENTOS_TERMINAL_HOST_SECRET", "host-secret-4713");
        var env = TestAgents.AsEnvironment();
        env["AgentOs__Sandbox"] = "none";
        env["AGENTOS_TERMINAL_HOST_SECRET"] = "host-secret-4713";
        await using var server = await ServerProcess.StartAsync(env, data.Path);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var session = await client.Vm("terminal-host").CreateSessionAsync(TestAgents.Default);

        var environment = (await session.SendPromptAsync("terminal env")).Text;
        var daemon = (await session.SendPromptAsync("terminal setsid sh -c 'sleep 3080 &' </dev/null >/dev/null 2>&1; echo spawned")).Text;

        environment.Should().NotContain("host-secret-4713").And.Contain("HOME=" + Path.Combine(server.DataDirectory, "vms", "terminal-host", "home"));
        daemon.Should().Be("exit 0\nspawned\n");
        await Poll.UntilAsync(() => AgentProcesses.Sleepers("3080").Count == 0, "a setsid daemon a terminal started ends with the terminal's command");
        (await session.SendPromptAsync("terminal-json {\"command\":\"pwd\",\"cwd\":\"/tmp\"}")).Text.Should().StartWith("terminal failed: -32602").And.Contain("outside the VM");
    }
}
