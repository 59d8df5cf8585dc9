using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace AgentOs.Client;

/// <summary>
/// A connection to an AgentOs server. <see cref="Vm"/> returns a typed handle per VM.
/// </summary>
/// <example>
/// <code>
/// await using var client = await AgentOsClient.ConnectAsync();
/// var vm = client.Vm("my-agent");
/// var session = await vm.CreateSessionAsync("pi");
/// var reply = await session.SendPromptAsync("Hello");
/// </code>
/// </example>
public sealed class AgentOsClient : IAsyncDisposable
{
    private readonly IHost? _host;

    /// <summary>Wraps an Orleans client you already have (for example inside a silo, or from DI).</summary>
    public AgentOsClient(IClusterClient clusterClient)
    {
        ClusterClient = clusterClient;
        _connection = clusterClient.ServiceProvider.GetService<ConnectionMonitor>() ?? new ConnectionMonitor();
    }

    private readonly ConnectionMonitor _connection;

    private AgentOsClient(IHost host)
        : this(host.Services.GetRequiredService<IClusterClient>()) => _host = host;

    /// <summary>The underlying Orleans client.</summary>
    public IClusterClient ClusterClient { get; }

    /// <summary>
    /// Connects to the server's gateway. Fails with <see cref="AgentOsException"/>
    /// (<see cref="AgentOsErrorCode.ServerUnavailable"/>) after <see cref="AgentOsClientOptions.ConnectTimeout"/>
    /// when nothing answers, instead of Orleans' default minutes of retries.
    /// </summary>
    public static async Task<AgentOsClient> ConnectAsync(AgentOsClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new AgentOsClientOptions();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.SetMinimumLevel(LogLevel.Warning).AddFilter("Orleans", LogLevel.Error);
        builder.UseOrleansClient(client => client.ConfigureAgentOsClient(options));
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var tls = host.Services.GetService<GatewayTls>();
            host.Dispose();
            throw new AgentOsException(AgentOsErrorCode.ServerUnavailable,
                $"Could not reach the AgentOs server at {options.GatewayHost}:{options.GatewayPort} (cluster '{options.ClusterId}') within {options.ConnectTimeout.TotalSeconds:0.#} s. " +
                "Is it running? Start it with `dotnet run --project src/AgentOs.Server`, or set GatewayHost/GatewayPort. " +
                (tls is null
                    ? "A gateway that listens beyond loopback requires mutual TLS: set ClientCertificate and CaCertificate (or ClientCertificatePath, ClientKeyPath and CaCertificatePath) from the server's `certs create`."
                    : tls.LastRefusal is { } refusal
                        ? $"TLS: {refusal}."
                        : "With TLS on, the server must listen with mutual TLS and accept this client certificate (issued by its CA)."), ex);
        }

        return new AgentOsClient(host);
    }

    /// <summary>A handle to the VM named <paramref name="vmId"/> (created on first use).</summary>
    /// <exception cref="AgentOsException">The id is not a valid VM id.</exception>
    public VmHandle Vm(string vmId) => new(ClusterClient, VmId.Validate(vmId), _connection);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            try
            {
                await _host.StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Best effort: the server may be gone already.
            }

            _host.Dispose();
        }
    }
}

/// <summary>Orleans client configuration for AgentOs.</summary>
public static class AgentOsClientBuilderExtensions
{
    /// <summary>
    /// Points an Orleans client at an AgentOs server and registers the event stream provider; with a client
    /// certificate in <paramref name="options"/>, every gateway connection uses mutual TLS.
    /// </summary>
    /// <exception cref="AgentOsException"><see cref="AgentOsErrorCode.InvalidArgument"/>: TLS settings incomplete or a certificate file unusable.</exception>
    public static IClientBuilder ConfigureAgentOsClient(this IClientBuilder client, AgentOsClientOptions options)
    {
        var gateway = ResolveGateway(options.GatewayHost, options.GatewayPort);
        client.UseStaticClustering(gateway);
        if (options.UsesTls)
        {
            var tls = GatewayTls.Create(options);
            client.Services.AddSingleton(tls);
            client.UseTls(tls.Certificate, tls.Configure);
        }

        client.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });
        client.AddMemoryStreams(AgentOsNames.StreamProvider);
        ByteSegmentCodec.Register(client.Services); // the server sends stream batches as one block
        client.Services.AddSingleton<ConnectionMonitor>();
        client.AddClusterConnectionLostHandler(sp => (_, _) => sp.GetRequiredService<ConnectionMonitor>().OnConnectionLost());
        client.AddGatewayCountChangedHandler(sp => (_, e) => sp.GetRequiredService<ConnectionMonitor>().OnGatewayCountChanged(e.NumberOfConnectedGateways, e.PreviousNumberOfConnectedGateways));
        var deadline = DateTime.UtcNow + options.ConnectTimeout;
        client.UseConnectionRetryFilter(async (_, ct) =>
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), ct).ConfigureAwait(false);
            return true;
        });
        return client;
    }

    /// <summary>Adds an AgentOs client (an Orleans client plus <see cref="AgentOsClient"/>) to a host's services.</summary>
    public static IHostApplicationBuilder AddAgentOsClient(this IHostApplicationBuilder builder, Action<AgentOsClientOptions>? configure = null)
    {
        var options = new AgentOsClientOptions();
        configure?.Invoke(options);
        builder.UseOrleansClient(client => client.ConfigureAgentOsClient(options));
        builder.Services.AddSingleton(sp => new AgentOsClient(sp.GetRequiredService<IClusterClient>()));
        return builder;
    }

    private static IPEndPoint ResolveGateway(string host, int port)
    {
        if (IPAddress.TryParse(host, out var address))
        {
            return new IPEndPoint(address, port);
        }

        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        var resolved = Dns.GetHostAddresses(host).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? throw new AgentOsException(AgentOsErrorCode.ServerUnavailable, $"Could not resolve the AgentOs gateway host '{host}'.");
        return new IPEndPoint(resolved, port);
    }
}
