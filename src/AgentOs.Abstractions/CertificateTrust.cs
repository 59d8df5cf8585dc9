using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AgentOs;

/// <summary>
/// The one rule both ends of a mutual-TLS Orleans connection apply to the other's certificate: its
/// chain is built with the configured CA as the only trust anchor (the machine's trusted roots play no
/// part), and it is valid now for the purpose it is used for. The server and the client SDK share it.
/// </summary>
internal static class CertificateTrust
{
    /// <summary>The extended key usage a server certificate needs (TLS Web Server Authentication).</summary>
    public const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";

    /// <summary>The extended key usage a client certificate needs (TLS Web Client Authentication).</summary>
    public const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";

    /// <summary>
    /// Null when <paramref name="certificate"/> was issued by <paramref name="ca"/> and may be used for
    /// <paramref name="purpose"/> (an extended key usage OID); otherwise why not, in words.
    /// </summary>
    public static string? Check(X509Certificate2 certificate, X509Certificate2 ca, string purpose)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        // A private CA publishes no revocation lists; a compromised certificate means a new CA.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(purpose));
        try
        {
            if (!chain.Build(certificate))
            {
                var status = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
                return $"'{certificate.Subject}' (issuer '{certificate.Issuer}') is not trusted through the configured CA '{ca.Subject}' ({ca.Thumbprint}): {status}";
            }

            // CustomRootTrust makes the CA the only possible root; checked again because it is the whole point.
            var root = chain.ChainElements[^1].Certificate;
            return root.RawDataMemory.Span.SequenceEqual(ca.RawDataMemory.Span)
                ? null
                : $"'{certificate.Subject}' chains to '{root.Subject}', not to the configured CA '{ca.Subject}'";
        }
        finally
        {
            foreach (var element in chain.ChainElements)
            {
                element.Certificate.Dispose();
            }
        }
    }
}
