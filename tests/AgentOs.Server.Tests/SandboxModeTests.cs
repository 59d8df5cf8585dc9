using System.Net;
using System.Net.Sockets;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>The sandbox settings of a real server process: host-process mode and a cut network.</summary>
public sealed class SandboxModeTests
{
    [Fact]
    public async Task HostProcessMode_IsLoudAtStart_MapsTheHomeOntoTheVmFolder_AndStillConfinesFsRequests()
    {
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__Sandbox"] = "none";
        await using var server = await ServerProcess.StartAsync(env);
        server.Output.Should().Contain("AGENTS ARE NOT SANDBOXED");
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("host-mode");
        var session = await vm.CreateSessionAsync("mine", new CreateSessionOptions { Cwd = "/home/agentos" });
        var home = Path.Combine(server.DataDirectory, "vms", "host-mode", "home");

        (await Say(vm, session, "cwd")).Should().Be(home, "without a sandbox the agent works in the VM's folder on the host");
        (await Say(vm, session, "env HOME")).Should().Be(home);
        (await Say(vm, session, $"write {home}/a.txt host path")).Should().Be($"wrote {home}/a.txt");
        (await Say(vm, session, "read /home/agentos/a.txt")).Should().Be("host path", "VM paths are accepted too");
        (await Say(vm, session, "read /etc/hostname")).Should().StartWith("read failed:");
        (await Say(vm, session, $"read {server.DataDirectory}/vms/host-mode/vm.db")).Should().StartWith("read failed:");
    }

    [Fact]
    public async Task SandboxNetworkNone_LeavesOnlyTheAgentsOwnLoopback_AndHostIsLoudAndOpen()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var connect = $"sh timeout 5 bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}' 2>&1 | head -c 200; echo";

        var none = TestAgents.AsEnvironment("mine");
        none["AgentOs__SandboxNetwork"] = "none";
        none["AgentOs__SandboxAllowHostPorts__0"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using (var server = await ServerProcess.StartAsync(none))
        await using (var client = await AgentOsClient.ConnectAsync(server.ClientOptions))
        {
            server.Output.Should().Contain("network: none (loopback only)");
            var vm = client.Vm("net-none");
            var session = await vm.CreateSessionAsync("mine");
            (await Say(vm, session, connect)).Should().Contain("Connection refused", "the agent has its own network namespace with only its own loopback; the allow-list is for 'internet' mode");
            (await Say(vm, session, "sh tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")).Should().Be("exit 0\nlo", "no interface but the loopback");
        }

        var host = TestAgents.AsEnvironment("mine");
        host["AgentOs__SandboxNetwork"] = "host";
        await using (var server = await ServerProcess.StartAsync(host))
        await using (var client = await AgentOsClient.ConnectAsync(server.ClientOptions))
        {
            server.Output.Should().Contain("AGENTS SHARE THE HOST'S NETWORK", "the unsafe mode is loud");
            var vm = client.Vm("net-host");
            var session = await vm.CreateSessionAsync("mine");
            (await Say(vm, session, connect)).Should().StartWith("exit 0", "asked for by name, the host's network is the host's");
        }
    }

    [Fact]
    public async Task ABuiltInAgentType_WithoutNodeOnTheServer_FailsWithAClearError()
    {
        using var emptyPath = new TempDirectory("no-node");
        var env = TestAgents.AsEnvironment("mine");
        env["PATH"] = emptyPath.Path;
        await using var server = await ServerProcess.StartAsync(env);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("no-node");

        var failure = await FluentActions.Awaiting(() => vm.CreateSessionAsync("pi")).Should().ThrowAsync<AgentOsException>();

        failure.Which.Code.Should().Be(AgentOsErrorCode.SoftwareUnavailable);
        failure.Which.Message.Should().Contain("needs Node.js 20+ and npm");
        (await vm.CreateSessionAsync("mine")).Info!.AgentType.Should().Be("mine", "the server and its other agent types go on");
    }

    private static async Task<string> Say(VmHandle vm, SessionHandle session, string prompt) => (await vm.SendPromptAsync(session.SessionId, prompt)).Text;
}
