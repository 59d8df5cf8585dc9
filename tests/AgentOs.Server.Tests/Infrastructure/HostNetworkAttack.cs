using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using AgentOs.Client;

namespace AgentOs.Server.Tests.Infrastructure;

/// <summary>
/// The network attack of issue 12, item 1, made from inside a real server's default sandbox by whatever a prompt runs there
/// (the agent's own shell, <c>sh …</c>, or a terminal it asks the host for, <c>terminal …</c>): the control plane (the
/// server's HTTP port, its Orleans gateway and silo ports) and the host's other services (a loopback listener, a listener on
/// the host's own non-loopback address, the link-local metadata address) must each be refused, while a host port the
/// configuration allows (a local LLM gateway) is reached at the address an agent on the host would use.
/// </summary>
public static class HostNetworkAttack
{
    /// <param name="vmId">The attacker's VM.</param>
    /// <param name="runPrefix">The prompt's first word that runs a shell command: <c>sh</c> or <c>terminal</c>.</param>
    /// <param name="who">Who attacks, for the failure message.</param>
    public static async Task RunAsync(string vmId, string runPrefix, string who)
    {
        using var other = Listen(IPAddress.Loopback);
        using var allowed = Listen(IPAddress.Loopback);
        using var anywhere = Listen(IPAddress.Any);
        var env = TestAgents.AsEnvironment();
        env["AgentOs__SandboxAllowHostPorts__0"] = Port(allowed).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var server = await ServerProcess.StartAsync(env);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var session = await client.Vm(vmId).CreateSessionAsync(TestAgents.Default);

        var targets = new Dictionary<string, (string Host, int Port)>
        {
            ["the server's HTTP port"] = ("127.0.0.1", server.BaseAddress.Port),
            ["the Orleans gateway"] = ("127.0.0.1", server.GatewayPort),
            ["the Orleans silo port"] = ("127.0.0.1", server.SiloPort),
            ["another loopback listener"] = ("127.0.0.1", Port(other)),
            ["the slirp gateway's view of host loopback"] = ("10.0.2.2", Port(other)),
            ["the gateway through the slirp host address"] = ("10.0.2.2", server.GatewayPort),
            ["the cloud metadata address"] = ("169.254.169.254", 80),
        };
        if (HostAddress() is { } host)
        {
            targets["a listener on the host's own address"] = (host.ToString(), Port(anywhere));
        }

        foreach (var (what, (address, port)) in targets)
        {
            (await Connect(session, runPrefix, address, port)).Should().NotStartWith("exit 0", $"{who} must not reach {what} ({address}:{port})");
        }

        var reached = allowed.AcceptSocketAsync();
        (await Connect(session, runPrefix, "127.0.0.1", Port(allowed))).Should().StartWith("exit 0", "a port in AgentOs:SandboxAllowHostPorts is reachable at the host's loopback address");
        using (await reached.WaitAsync(TestTimeouts.Default))
        {
        }
    }

    private static async Task<string> Connect(SessionHandle session, string runPrefix, string host, int port) =>
        (await session.SendPromptAsync($"{runPrefix} timeout 5 bash -c 'echo hi > /dev/tcp/{host}/{port}' 2>&1")).Text;

    private static TcpListener Listen(IPAddress address)
    {
        var listener = new TcpListener(address, 0);
        listener.Start();
        return listener;
    }

    private static int Port(TcpListener listener) => ((IPEndPoint)listener.LocalEndpoint).Port;

    /// <summary>One of the host's own non-loopback IPv4 addresses, when it has one.</summary>
    private static IPAddress? HostAddress() => NetworkInterface.GetAllNetworkInterfaces()
        .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
        .SelectMany(n => n.GetIPProperties().UnicastAddresses)
        .Select(a => a.Address)
        .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
}
