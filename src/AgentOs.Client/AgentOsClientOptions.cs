using System.Security.Cryptography.X509Certificates;

namespace AgentOs.Client;

/// <summary>Where the AgentOs server's Orleans gateway is, and how to authenticate to it.</summary>
/// <remarks>
/// A gateway on loopback (the server's default) is open to local apps. A gateway that listens beyond
/// loopback requires mutual TLS: give this client a certificate issued by the server's CA and that CA
/// as the trust anchor for the server's certificate, either as objects (<see cref="ClientCertificate"/>,
/// <see cref="CaCertificate"/>) or as the PEM files the server's <c>certs create</c> command writes
/// (<see cref="ClientCertificatePath"/>, <see cref="ClientKeyPath"/>, <see cref="CaCertificatePath"/>).
/// </remarks>
public sealed class AgentOsClientOptions
{
    /// <summary>
    /// Gateway host. Default <c>localhost</c>. With TLS it must be one of the names (or IP addresses) in
    /// the server certificate (<c>certs create --host NAME</c>; localhost and 127.0.0.1 always are).
    /// </summary>
    public string GatewayHost { get; set; } = "localhost";

    /// <summary>Gateway port. Default 30000.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Orleans cluster id; must match the server's. Default <c>agentos</c>.</summary>
    public string ClusterId { get; set; } = AgentOsNames.DefaultClusterId;

    /// <summary>Orleans service id; must match the server's. Default <c>agentos</c>.</summary>
    public string ServiceId { get; set; } = AgentOsNames.DefaultClusterId;

    /// <summary>How long to keep trying to reach the gateway before giving up with a clear error. Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The client certificate, with its private key, that this client presents to a gateway requiring
    /// mutual TLS; it must be issued by the server's CA for client authentication (<c>client.crt</c> and
    /// <c>client.key</c> of <c>certs create</c>, e.g. <c>X509Certificate2.CreateFromPemFile(crt, key)</c>).
    /// Setting it turns TLS on and needs <see cref="CaCertificate"/> too. Takes precedence over
    /// <see cref="ClientCertificatePath"/>. Default none: no TLS.
    /// </summary>
    public X509Certificate2? ClientCertificate { get; set; }

    /// <summary>
    /// The CA certificate (<c>ca.crt</c> of <c>certs create</c>) that the server's certificate must be
    /// issued by: the only trust anchor, the machine's trusted roots play no part. Needed with
    /// <see cref="ClientCertificate"/>; takes precedence over <see cref="CaCertificatePath"/>.
    /// </summary>
    public X509Certificate2? CaCertificate { get; set; }

    /// <summary>
    /// Path of the client certificate as PEM (<c>client.crt</c>), used when <see cref="ClientCertificate"/>
    /// is not set; needs <see cref="ClientKeyPath"/> and <see cref="CaCertificatePath"/> (or
    /// <see cref="CaCertificate"/>). Setting it turns TLS on.
    /// </summary>
    public string? ClientCertificatePath { get; set; }

    /// <summary>Path of the client certificate's private key as PEM (<c>client.key</c>, PKCS#8).</summary>
    public string? ClientKeyPath { get; set; }

    /// <summary>Path of the CA certificate as PEM (<c>ca.crt</c>), used when <see cref="CaCertificate"/> is not set.</summary>
    public string? CaCertificatePath { get; set; }

    /// <summary>Whether any TLS setting is given (then all needed ones must be).</summary>
    internal bool UsesTls => ClientCertificate is not null || CaCertificate is not null
        || !string.IsNullOrEmpty(ClientCertificatePath) || !string.IsNullOrEmpty(ClientKeyPath) || !string.IsNullOrEmpty(CaCertificatePath);
}
