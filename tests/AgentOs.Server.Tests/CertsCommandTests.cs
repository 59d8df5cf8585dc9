using System.Security.Cryptography.X509Certificates;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 12, "the control plane authenticates": the server's <c>certs create</c> command writes the CA and
/// the certificates mutual TLS on the Orleans ports needs, readable by the server's user only.
/// </summary>
public sealed class CertsCommandTests
{
    private static readonly string[] Files = ["ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key"];

    [Fact]
    public async Task CertsCreate_WritesACaAndAServerAndAClientCertificateItIssued_Each0600InA0700Folder()
    {
        using var root = new TempDirectory("agentos-certs");
        var dir = Path.Combine(root.Path, "certs");

        var (exitCode, stdout, stderr) = await ServerCommand.RunAsync("certs", "create", "--out", dir, "--host", "agentos.example", "--host", "10.9.8.7");

        exitCode.Should().Be(0, stderr);
        if (!OperatingSystem.IsWindows())
        {
            File.GetUnixFileMode(dir).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            foreach (var file in Files)
            {
                File.GetUnixFileMode(Path.Combine(dir, file)).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite, file);
            }
        }

        using var ca = X509Certificate2.CreateFromPemFile(Path.Combine(dir, "ca.crt"), Path.Combine(dir, "ca.key"));
        using var server = X509Certificate2.CreateFromPemFile(Path.Combine(dir, "server.crt"), Path.Combine(dir, "server.key"));
        using var client = X509Certificate2.CreateFromPemFile(Path.Combine(dir, "client.crt"), Path.Combine(dir, "client.key"));
        ca.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority.Should().BeTrue();
        CertificateTrust.Check(server, ca, CertificateTrust.ServerAuthentication).Should().BeNull();
        CertificateTrust.Check(server, ca, CertificateTrust.ClientAuthentication).Should().BeNull("the silo dials other silos with it");
        CertificateTrust.Check(client, ca, CertificateTrust.ClientAuthentication).Should().BeNull();
        CertificateTrust.Check(client, ca, CertificateTrust.ServerAuthentication).Should().NotBeNull("a client certificate cannot pose as the server");
        var names = server.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        names.EnumerateDnsNames().Should().BeEquivalentTo("agentos.example", "localhost");
        names.EnumerateIPAddresses().Select(a => a.ToString()).Should().BeEquivalentTo("10.9.8.7", "127.0.0.1");
        stdout.Should().Contain("AgentOs__Orleans__ListenAddress=0.0.0.0")
            .And.Contain($"AgentOs__Orleans__Tls__CertificatePath={Path.Combine(dir, "server.crt")}")
            .And.Contain($"AgentOs__Orleans__Tls__KeyPath={Path.Combine(dir, "server.key")}")
            .And.Contain($"AgentOs__Orleans__Tls__CaCertificatePath={Path.Combine(dir, "ca.crt")}")
            .And.Contain($"ClientCertificatePath = \"{Path.Combine(dir, "client.crt")}\"")
            .And.Contain($"ClientKeyPath = \"{Path.Combine(dir, "client.key")}\"");
    }

    [Fact]
    public async Task CertsCreate_IntoAFolderThatHasCertificates_RefusesAndLeavesThemAlone()
    {
        using var root = new TempDirectory("agentos-certs");
        var dir = await ServerCommand.CertsCreateAsync(Path.Combine(root.Path, "certs"));
        var before = await File.ReadAllTextAsync(Path.Combine(dir, "ca.key"));

        var (exitCode, _, stderr) = await ServerCommand.RunAsync("certs", "create", "--out", dir);

        exitCode.Should().Be(1);
        stderr.Should().Contain("never overwrites").And.Contain(Path.Combine(dir, "ca.crt"));
        (await File.ReadAllTextAsync(Path.Combine(dir, "ca.key"))).Should().Be(before);
    }
}
