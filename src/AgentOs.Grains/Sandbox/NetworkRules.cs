using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;

namespace AgentOs.Sandbox;

/// <summary>
/// The nftables ruleset loaded inside a VM's network namespace before any agent starts. slirp4netns gives
/// the namespace a <c>tap0</c> (10.0.2.100/24), a gateway that is the host's loopback (10.0.2.2) and a DNS
/// forwarder (10.0.2.3); it connects out from the host, so every address the host itself owns is a way to
/// the host's services. The rules refuse all of them, and link-local 169.254.0.0/16 (cloud metadata), and
/// IPv6, except DNS and the allowed host ports, which are also reachable at 127.0.0.1 as on the host
/// (DNAT to the gateway). The namespace belongs to a user namespace of the server's; the agent's own,
/// nested user namespace has no capability over it, so an agent cannot change the rules.
/// </summary>
internal static class NetworkRules
{
    public const string Interface = "tap0";
    public const string HostLoopback = "10.0.2.2";
    public const string Dns = "10.0.2.3";

    /// <summary>The sandbox's <c>/etc/resolv.conf</c>: slirp4netns' DNS forwarder.</summary>
    public const string ResolvConf = $"nameserver {Dns}\noptions ndots:0\n";

    public static string Build(IReadOnlyCollection<int> allowedHostPorts, IEnumerable<IPAddress> hostAddresses)
    {
        var ports = string.Join(", ", allowedHostPorts.Distinct().Order());
        var refused = new[] { "10.0.2.0/24", "127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8", "224.0.0.0/4", "255.255.255.255" }
            .Concat(hostAddresses.Where(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a)).Select(a => a.ToString()).Distinct());
        var rules = new StringBuilder();
        rules.Append("table inet agentos {\n");
        if (ports.Length > 0)
        {
            rules.Append($$"""
                  chain nat_output {
                    type nat hook output priority -100; policy accept;
                    ip daddr 127.0.0.1 tcp dport { {{ports}} } dnat ip to {{HostLoopback}}
                  }
                  chain nat_postrouting {
                    type nat hook postrouting priority 100; policy accept;
                    oifname "{{Interface}}" ip saddr 127.0.0.0/8 masquerade
                  }

                """);
        }

        rules.Append($$"""
              chain output {
                type filter hook output priority 0; policy accept;
                oifname "lo" accept
                ip daddr {{Dns}} udp dport 53 accept
                ip daddr {{Dns}} tcp dport 53 accept

            """);
        if (ports.Length > 0)
        {
            rules.Append($"    ip daddr {HostLoopback} tcp dport {{ {ports} }} accept\n");
        }

        rules.Append($$"""
                ip daddr { {{string.Join(", ", refused)}} } meta l4proto tcp reject with tcp reset
                ip daddr { {{string.Join(", ", refused)}} } reject with icmpx admin-prohibited
                meta nfproto ipv6 reject with icmpx admin-prohibited
              }
            }

            """);
        return rules.ToString();
    }

    /// <summary>Every address of the host's interfaces now (read each time a VM's network is made).</summary>
    public static IEnumerable<IPAddress> HostAddresses()
    {
        try
        {
            return NetworkInterface.GetAllNetworkInterfaces().SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(a => a.Address).ToList();
        }
        catch (NetworkInformationException)
        {
            return [];
        }
    }
}
