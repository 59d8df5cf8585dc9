using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 12, item 1: from inside the default sandbox, an agent tries to reach the control plane (the
/// server's HTTP port, its Orleans gateway and silo ports) and the host's other services (a loopback
/// listener, a listener on the host's own non-loopback address, the link-local metadata address). Each
/// must be refused, while a host port the configuration allows (a local LLM gateway) is reachable at
/// the same address an agent on the host would use (<see cref="HostNetworkAttack"/>).
/// </summary>
public sealed class NetworkAttackTests
{
    [Fact]
    public Task FromInsideTheSandbox_TheServersPortsAndTheHostsServicesAreRefused_AnAllowListedPortIsReached() =>
        HostNetworkAttack.RunAsync("attacker", "sh", "an agent");
}
