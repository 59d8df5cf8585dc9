using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;

namespace AgentOs.Client;

/// <summary>
/// Mutual TLS to the gateway: this client presents its certificate and accepts only a server
/// certificate that its CA issued for server authentication and that names <see cref="AgentOsClientOptions.GatewayHost"/>.
/// Remembers why it last refused the server, for the error <see cref="AgentOsClient.ConnectAsync"/> throws.
/// </summary>
internal sealed class GatewayTls
{
    private readonly string _host;
    private readonly X509Certificate2 _ca;

    private GatewayTls(X509Certificate2 certificate, X509Certificate2 ca, string host)
    {
        Certificate = certificate;
        _ca = ca;
        _host = host;
    }

    public X509Certificate2 Certificate { get; }

    /// <summary>Why the server's certificate was last refused; null when it never was.</summary>
    public string? LastRefusal { get; private set; }

    /// <summary>Loads the certificates <paramref name="options"/> name.</summary>
    /// <exception cref="AgentOsException"><see cref="AgentOsErrorCode.InvalidArgument"/>: a setting is missing or a file unusable.</exception>
    public static GatewayTls Create(AgentOsClientOptions options)
    {
        var certificate = options.ClientCertificate;
        if (certificate is null)
        {
            if (string.IsNullOrEmpty(options.ClientCertificatePath) || string.IsNullOrEmpty(options.ClientKeyPath))
            {
                throw Invalid("Mutual TLS to the gateway needs a client certificate with its key: set ClientCertificate, or ClientCertificatePath and ClientKeyPath (client.crt and client.key of the server's `certs create`).");
            }

            certificate = Load(() => X509Certificate2.CreateFromPemFile(options.ClientCertificatePath, options.ClientKeyPath),
                $"the client certificate {options.ClientCertificatePath} with the key {options.ClientKeyPath}");
        }

        if (!certificate.HasPrivateKey)
        {
            throw Invalid($"The client certificate '{certificate.Subject}' has no private key: load it with its key (X509Certificate2.CreateFromPemFile(crt, key)) or set ClientKeyPath.");
        }

        var ca = options.CaCertificate;
        if (ca is null)
        {
            if (string.IsNullOrEmpty(options.CaCertificatePath))
            {
                throw Invalid("Mutual TLS to the gateway needs the server's CA certificate to check the server with: set CaCertificate or CaCertificatePath (ca.crt of the server's `certs create`).");
            }

            ca = Load(() => X509Certificate2.CreateFromPem(File.ReadAllText(options.CaCertificatePath)), $"the CA certificate {options.CaCertificatePath}");
        }

        if (OperatingSystem.IsWindows())
        {
            // SChannel refuses a key that lives only in memory: give it a persisted one.
            certificate = X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
        }

        return new GatewayTls(certificate, ca, options.GatewayHost);
    }

    /// <summary>The Orleans TLS settings for the gateway connection.</summary>
    public void Configure(TlsOptions tls)
    {
        tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        tls.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        tls.RemoteCertificateValidation = ValidateServer;
        // Checked against the server certificate's names; also the SNI name (never sent for an IP address).
        tls.OnAuthenticateAsClient = (_, authentication) => authentication.TargetHost = _host;
    }

    private bool ValidateServer(X509Certificate2 certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        // The chain errors SslStream reports come from the machine's roots; CertificateTrust builds its own.
        LastRefusal = (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0
            ? $"the server's certificate '{certificate.Subject}' is not issued for '{_host}' (GatewayHost must be one of its names: `certs create --host {_host}`)"
            : CertificateTrust.Check(certificate, _ca, CertificateTrust.ServerAuthentication) is { } reason ? "the server's certificate was refused: " + reason : null;
        return LastRefusal is null;
    }

    private static X509Certificate2 Load(Func<X509Certificate2> load, string what)
    {
        try
        {
            return load();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw Invalid($"Could not load {what}: {ex.Message}", ex);
        }
    }

    private static AgentOsException Invalid(string message, Exception? inner = null) => new(AgentOsErrorCode.InvalidArgument, message, inner);
}
