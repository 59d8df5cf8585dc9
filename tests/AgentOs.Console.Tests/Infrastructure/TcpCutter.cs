using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace AgentOs.Console.Tests.Infrastructure;

/// <summary>
/// A loopback TCP relay in front of the server that can cut every connection through it at once, as a network drop
/// does (both sides see their connection end; new connections are served again right after).
/// </summary>
public sealed class TcpCutter : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly ConcurrentDictionary<Relay, byte> _relays = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public TcpCutter(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public Uri Address => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    /// <summary>How many connections were cut so far.</summary>
    public int Cuts { get; private set; }

    /// <summary>Ends every connection through the relay now.</summary>
    public int CutAll()
    {
        var cut = 0;
        foreach (var relay in _relays.Keys)
        {
            relay.Dispose();
            _relays.TryRemove(relay, out _);
            cut++;
        }

        Cuts += cut;
        return cut;
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            var server = new TcpClient();
            try
            {
                await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                client.Dispose();
                server.Dispose();
                continue;
            }

            var relay = new Relay(client, server);
            _relays[relay] = 0;
            _ = relay.RunAsync().ContinueWith(t => _relays.TryRemove(relay, out byte _), TaskScheduler.Default);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        CutAll();
        _stop.Dispose();
    }

    private sealed class Relay(TcpClient client, TcpClient server) : IDisposable
    {
        public async Task RunAsync()
        {
            try
            {
                using var a = client.GetStream();
                using var b = server.GetStream();
                await Task.WhenAny(a.CopyToAsync(b), b.CopyToAsync(a));
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or InvalidOperationException)
            {
                // Cut.
            }
            finally
            {
                Dispose();
            }
        }

        public void Dispose()
        {
            // A reset, not a graceful close: what a dropped network leaves the browser with.
            try
            {
                client.Client.LingerState = new LingerOption(true, 0);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }

            client.Dispose();
            server.Dispose();
        }
    }
}
