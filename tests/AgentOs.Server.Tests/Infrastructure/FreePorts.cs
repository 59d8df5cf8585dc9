using System.Net;
using System.Net.Sockets;

namespace AgentOs.Server.Tests.Infrastructure;

/// <summary>Loopback ports nobody listens on (Orleans does not fail on a taken port, so tests pick their own).</summary>
public static class FreePorts
{
    public static int[] Take(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ =>
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return listener;
        }).ToList();
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }
}
