using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Orleans.Configuration;
using Orleans.Connections.Security;

namespace AgentOs.Server;

/// <summary>
/// Where the silo and gateway ports listen, and whether they require mutual TLS. Loopback needs no
/// authentication: no sandboxed agent can reach the host's loopback (each has a network namespace of
/// its own). Beyond loopback every connection must present a certificate issued by the configured CA,
/// and the server refuses to start without one.
/// </summary>
internal sealed class SiloNetwork
{
    private const string TlsKeys = "AgentOs:Orleans:Tls:CertificatePath, AgentOs:Orleans:Tls:KeyPath and AgentOs:Orleans:Tls:CaCertificatePath";

    private SiloNetwork(IPAddress listenAddress, X509Certificate2? certificate, X509Certificate2? ca)
    {
        ListenAddress = listenAddress;
        Certificate = certificate;
        CaCertificate = ca;
    }

    public IPAddress ListenAddress { get; }

    /// <summary>The server certificate with its key; null without TLS.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>The only trust anchor for peers' certificates; null without TLS.</summary>
    public X509Certificate2? CaCertificate { get; }

    /// <summary>What the ready line says about the gateway.</summary>
    public string Describe(int gatewayPort) =>
        new IPEndPoint(ListenAddress, gatewayPort) + (Certificate is null ? "" : " (mutual TLS)");

    /// <summary>
    /// Reads <c>AgentOs:Orleans:ListenAddress</c> and <c>:Tls</c> and loads the certificates.
    /// </summary>
    /// <exception cref="InvalidOperationException">The configuration is unsafe or unusable; the message says how to fix it.</exception>
    public static SiloNetwork Resolve(OrleansEndpointOptions options)
    {
        var address = ParseAddress(options.ListenAddress);
        var tls = options.Tls;
        if (!tls.IsConfigured)
        {
            return IPAddress.IsLoopback(address)
                ? new SiloNetwork(address, null, null)
                : throw new InvalidOperationException(
                    $"AgentOs:Orleans:ListenAddress is {address}, beyond loopback, but mutual TLS is not configured: anyone who reaches the silo or gateway port could call every VM. " +
                    $"Set {TlsKeys} (create them with `dotnet run --project src/AgentOs.Server -- certs create --host <this host's name>`), " +
                    "or listen on loopback only (AgentOs:Orleans:ListenAddress=127.0.0.1, the default).");
        }

        var missing = new[] { ("CertificatePath", tls.CertificatePath), ("KeyPath", tls.KeyPath), ("CaCertificatePath", tls.CaCertificatePath) }
            .Where(p => string.IsNullOrWhiteSpace(p.Item2)).Select(p => "AgentOs:Orleans:Tls:" + p.Item1).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException($"Mutual TLS on the Orleans ports needs {TlsKeys}; {string.Join(" and ", missing)} {(missing.Count == 1 ? "is" : "are")} not set.");
        }

        var certificate = Load(() => X509Certificate2.CreateFromPemFile(tls.CertificatePath!, tls.KeyPath),
            $"the server certificate {tls.CertificatePath} with the key {tls.KeyPath}");
        var ca = Load(() => X509Certificate2.CreateFromPem(File.ReadAllText(tls.CaCertificatePath!)), $"the CA certificate {tls.CaCertificatePath}");
        if (CertificateTrust.Check(certificate, ca, CertificateTrust.ServerAuthentication) is { } reason)
        {
            throw new InvalidOperationException($"The server certificate {tls.CertificatePath} does not fit the CA {tls.CaCertificatePath}: {reason}. Use the files of one `certs create` run.");
        }

        if (OperatingSystem.IsWindows())
        {
            // SChannel refuses a key that lives only in memory: give it a persisted one.
            certificate = X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
        }

        return new SiloNetwork(address, certificate, ca);
    }

    /// <summary>
    /// <c>UseLocalhostClustering</c> with the configured address: one silo, development clustering with
    /// itself as the primary, the silo and gateway listening on <see cref="ListenAddress"/>; and TLS on
    /// every silo and gateway connection when configured.
    /// </summary>
    public void Apply(ISiloBuilder silo, OrleansEndpointOptions options)
    {
        // Orleans refuses to advertise "any"; the one silo is its own primary, reached on loopback.
        var advertised = ListenAddress.Equals(IPAddress.Any) ? IPAddress.Loopback
            : ListenAddress.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback
            : ListenAddress;
        silo.Configure<EndpointOptions>(o =>
        {
            o.AdvertisedIPAddress = advertised;
            o.SiloPort = options.SiloPort;
            o.GatewayPort = options.GatewayPort;
            o.SiloListeningEndpoint = new IPEndPoint(ListenAddress, options.SiloPort);
            o.GatewayListeningEndpoint = new IPEndPoint(ListenAddress, options.GatewayPort);
        });
        silo.UseDevelopmentClustering(new IPEndPoint(advertised, options.SiloPort));
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });

        if (Certificate is not null && CaCertificate is { } ca)
        {
            // Inbound silo and gateway connections as server, outbound silo connections as client, all
            // with this certificate; a peer without a certificate from the CA is refused in the handshake.
            silo.UseTls(Certificate, tls =>
            {
                tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
                tls.RemoteCertificateValidation = (peer, _, _) => CertificateTrust.Check(peer, ca, CertificateTrust.ClientAuthentication) is null;
            });
        }
    }

    private static IPAddress ParseAddress(string? text)
    {
        if (string.Equals(text?.Trim(), "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.Loopback;
        }

        return IPAddress.TryParse(text?.Trim(), out var address) && address.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6
            ? address
            : throw new InvalidOperationException(
                $"AgentOs:Orleans:ListenAddress '{text}' is not an IP address. Use 127.0.0.1 (the default: loopback only), 0.0.0.0 (every IPv4 address, with mutual TLS) or one of this host's addresses.");
    }

    private static X509Certificate2 Load(Func<X509Certificate2> load, string what)
    {
        try
        {
            return load();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new InvalidOperationException($"Could not load {what}: {ex.Message}", ex);
        }
    }
}
