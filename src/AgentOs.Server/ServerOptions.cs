namespace AgentOs.Server;

/// <summary>The silo's network settings (<c>AgentOs:Orleans</c>).</summary>
public sealed class OrleansEndpointOptions
{
    public string ClusterId { get; set; } = AgentOsNames.DefaultClusterId;

    public string ServiceId { get; set; } = AgentOsNames.DefaultClusterId;

    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;

    /// <summary>
    /// The IP address the silo and gateway ports listen on: <c>127.0.0.1</c> (the default, loopback only,
    /// which no sandboxed agent can reach), <c>0.0.0.0</c> for every IPv4 address, or one of the host's
    /// addresses. Anything but loopback needs <see cref="Tls"/>.
    /// </summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>Mutual TLS on the silo and gateway connections (<c>AgentOs:Orleans:Tls</c>).</summary>
    public OrleansTlsOptions Tls { get; set; } = new();
}

/// <summary>
/// PEM files for mutual TLS (<c>AgentOs:Orleans:Tls</c>), as <c>certs create</c> writes them. Either all
/// three are set, or none.
/// </summary>
public sealed class OrleansTlsOptions
{
    /// <summary>The server's certificate (PEM); extended key usages server and client authentication.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>Its private key (PEM, PKCS#8 or the key type's own format).</summary>
    public string? KeyPath { get; set; }

    /// <summary>The CA certificate (PEM): the only trust anchor for client (and other silo) certificates.</summary>
    public string? CaCertificatePath { get; set; }

    public bool IsConfigured => CertificatePath is { Length: > 0 } || KeyPath is { Length: > 0 } || CaCertificatePath is { Length: > 0 };
}
