using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AgentOs.Layout;

namespace AgentOs.Server;

/// <summary>
/// The server's <c>certs create</c> command: writes what mutual TLS on the Orleans gateway and silo port
/// needs (<c>dotnet run --project src/AgentOs.Server -- certs create [--out DIR] [--host NAME]...</c>):
/// a private CA, a server certificate for the given hosts plus localhost and 127.0.0.1, and one client
/// certificate, all ECDSA P-256 and PEM, every file 0600 in a 0700 folder. It never overwrites a file.
/// </summary>
internal static class CertsCommand
{
    public const string Usage = "Usage: certs create [--out DIR] [--host NAME]... " +
        "DIR defaults to ./certs; each --host adds a DNS name or IP address to the server certificate, besides localhost and 127.0.0.1.";

    /// <summary>Subject of every CA this command makes; trust is by key and signature, never by this name.</summary>
    public const string CaSubject = "CN=AgentOs Orleans CA";

    private static readonly TimeSpan CaLifetime = TimeSpan.FromDays(3650);
    private static readonly TimeSpan LeafLifetime = TimeSpan.FromDays(825);

    /// <summary>Runs <c>certs …</c> with the arguments after <c>certs</c>; returns the process exit code.</summary>
    public static int Run(IReadOnlyList<string> args)
    {
        if (!TryParse(args, out var outDir, out var hosts, out var problem))
        {
            Console.Error.WriteLine((problem is null ? "" : problem + " ") + Usage);
            return 2;
        }

        var dir = Path.GetFullPath(outDir);
        var files = new[] { "ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key" }.Select(f => Path.Combine(dir, f)).ToArray();
        if (files.FirstOrDefault(File.Exists) is { } existing)
        {
            Console.Error.WriteLine($"certs create never overwrites: {existing} exists. Choose another --out, or remove the old files (every server and client using them then needs the new ones).");
            return 1;
        }

        var notBefore = DateTimeOffset.UtcNow.AddMinutes(-5); // some clock skew between machines
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var ca = CreateCa(caKey, notBefore);
        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var server = CreateLeaf(ca, serverKey, "CN=AgentOs Orleans server", notBefore, hosts,
            // The silo also dials other silos with this certificate: client authentication too.
            CertificateTrust.ServerAuthentication, CertificateTrust.ClientAuthentication);
        using var clientKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var client = CreateLeaf(ca, clientKey, "CN=AgentOs Orleans client", notBefore, hosts: null, CertificateTrust.ClientAuthentication);

        try
        {
            PrivateFiles.CreateDirectory(dir);
            Write(files[0], ca.ExportCertificatePem());
            Write(files[1], caKey.ExportPkcs8PrivateKeyPem());
            Write(files[2], server.ExportCertificatePem());
            Write(files[3], serverKey.ExportPkcs8PrivateKeyPem());
            Write(files[4], client.ExportCertificatePem());
            Write(files[5], clientKey.ExportPkcs8PrivateKeyPem());
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"certs create could not write to {dir}: {ex.Message}");
            return 1;
        }

        var names = string.Join(", ", ServerNames(hosts));
        Console.WriteLine($$"""
            Wrote to {{dir}} (folder 0700, files 0600):
              ca.crt      the CA: the trust anchor of the server and of every client (not secret)
              ca.key      the CA's private key: needed only to issue more certificates; keep it away from servers and clients
              server.crt  the server's certificate for {{names}}, valid until {{server.NotAfter.ToUniversalTime():yyyy-MM-dd}}
              server.key  its private key
              client.crt  a client certificate, valid until {{client.NotAfter.ToUniversalTime():yyyy-MM-dd}}
              client.key  its private key

            Server (environment variables; or the same keys in appsettings.json):
              AgentOs__Orleans__ListenAddress=0.0.0.0
              AgentOs__Orleans__Tls__CertificatePath={{files[2]}}
              AgentOs__Orleans__Tls__KeyPath={{files[3]}}
              AgentOs__Orleans__Tls__CaCertificatePath={{files[0]}}

            Client (AgentOsClientOptions; GatewayHost must be one of the server certificate's names):
              new AgentOsClientOptions
              {
                  GatewayHost = "{{hosts.FirstOrDefault() ?? "localhost"}}",
                  ClientCertificatePath = "{{files[4]}}",
                  ClientKeyPath = "{{files[5]}}",
                  CaCertificatePath = "{{files[0]}}",
              }
            """);
        return 0;
    }

    private static bool TryParse(IReadOnlyList<string> args, out string outDir, out List<string> hosts, out string? problem)
    {
        outDir = "certs";
        hosts = [];
        problem = null;
        if (args is not ["create", ..])
        {
            problem = args.Count == 0 ? null : $"Unknown certs command '{args[0]}'.";
            return false;
        }

        for (var i = 1; i < args.Count; i++)
        {
            var value = i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[i + 1] : null;
            switch (args[i])
            {
                case "--out" when value is not null:
                    outDir = value;
                    i++;
                    break;
                case "--host" when value is not null:
                    hosts.Add(value);
                    i++;
                    break;
                case "--out" or "--host":
                    problem = $"{args[i]} needs a value.";
                    return false;
                default:
                    problem = $"Unknown argument '{args[i]}'.";
                    return false;
            }
        }

        return true;
    }

    private static X509Certificate2 CreateCa(ECDsa key, DateTimeOffset notBefore)
    {
        var request = new CertificateRequest(CaSubject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        return request.CreateSelfSigned(notBefore, notBefore + CaLifetime);
    }

    private static X509Certificate2 CreateLeaf(X509Certificate2 ca, ECDsa key, string subject, DateTimeOffset notBefore, IReadOnlyList<string>? hosts, params string[] usages)
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        var oids = new OidCollection();
        foreach (var usage in usages)
        {
            oids.Add(new Oid(usage));
        }

        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(oids, critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (hosts is not null)
        {
            var names = new SubjectAlternativeNameBuilder();
            foreach (var name in ServerNames(hosts))
            {
                if (IPAddress.TryParse(name, out var address))
                {
                    names.AddIpAddress(address);
                }
                else
                {
                    names.AddDnsName(name);
                }
            }

            request.CertificateExtensions.Add(names.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // a positive serial number
        return request.Create(ca, notBefore, notBefore + LeafLifetime, serial); // ca holds its private key
    }

    private static IEnumerable<string> ServerNames(IEnumerable<string> hosts) =>
        hosts.Concat(["localhost", "127.0.0.1"]).Distinct(StringComparer.OrdinalIgnoreCase);

    private static void Write(string path, string pem)
    {
        using var stream = PrivateFiles.Create(path, FileMode.CreateNew);
        using var writer = new StreamWriter(stream);
        writer.Write(pem);
        writer.Write('\n');
    }
}
