using System.Net;
using System.Net.Sockets;

namespace AgentOs.Server;

/// <summary>
/// Orleans binds its ports with SO_REUSEPORT, so a second server on the same ports starts "fine"
/// and joins the first one in a broken cluster. Check with an exclusive bind first and fail clearly.
/// </summary>
internal static class PortGuard
{
    public static void EnsureFree(params (string Name, int Port)[] ports)
    {
        foreach (var (name, port) in ports)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Any, port));
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                throw new InvalidOperationException(
                    $"The {name} port {port} is already in use: is another AgentOs server running? Stop it, or choose another port with AgentOs:Orleans:{name}Port (e.g. the environment variable AgentOs__Orleans__{name}Port).", ex);
            }
        }
    }
}
