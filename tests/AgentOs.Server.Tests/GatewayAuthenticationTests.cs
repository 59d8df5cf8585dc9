using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Connections.Security;

namespace AgentOs.Server.Tests;

/// <summary>
/// A real server listening on 0.0.0.0 with mutual TLS from <c>certs create</c>, plus the certificates of a
/// second <c>certs create</c> run: an attacker's CA with the very same subject name as the server's.
/// </summary>
public sealed class TlsServerFixture : IAsyncLifetime
{
    private readonly TempDirectory _root = new("agentos-tls");

    private ServerProcess? _server;

    internal ServerProcess Server => _server ?? throw new InvalidOperationException("The TLS server did not start.");

    /// <summary>The server's certificates: ca.crt, client.crt, client.key, …</summary>
    internal string Certs => Path.Combine(_root.Path, "certs");

    /// <summary>Another CA's certificates, issued the same way.</summary>
    internal string OtherCerts => Path.Combine(_root.Path, "other");

    public async Task InitializeAsync()
    {
        await Task.WhenAll(ServerCommand.CertsCreateAsync(Certs), ServerCommand.CertsCreateAsync(OtherCerts));
        var env = TestAgents.AsEnvironment();
        env["AgentOs__Orleans__ListenAddress"] = "0.0.0.0";
        env["AgentOs__Orleans__Tls__CertificatePath"] = Path.Combine(Certs, "server.crt");
        env["AgentOs__Orleans__Tls__KeyPath"] = Path.Combine(Certs, "server.key");
        env["AgentOs__Orleans__Tls__CaCertificatePath"] = Path.Combine(Certs, "ca.crt");
        _server = await ServerProcess.StartAsync(env);
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _root.Dispose();
    }
}

/// <summary>
/// Issue 12, "the control plane authenticates": beyond loopback the Orleans gateway and silo port accept
/// only peers with a certificate issued by the server's CA. Each attacker here reaches the port (the
/// tests connect to 127.0.0.1 although the server listens on 0.0.0.0) and must not reach a grain.
/// </summary>
public sealed class GatewayAuthenticationTests(TlsServerFixture fixture) : IClassFixture<TlsServerFixture>
{
    /// <summary>How long an attacker's client keeps trying; each refusal must come within it (plus start-up).</summary>
    private static readonly TimeSpan AttackTimeout = TimeSpan.FromSeconds(3);

    private readonly ServerProcess _server = fixture.Server;

    [Fact]
    public async Task WithTheClientCertificate_TheSdkConnectsAndCreatesASession()
    {
        var options = _server.ClientOptions;
        options.ClientCertificatePath = Path.Combine(fixture.Certs, "client.crt");
        options.ClientKeyPath = Path.Combine(fixture.Certs, "client.key");
        options.CaCertificatePath = Path.Combine(fixture.Certs, "ca.crt");

        await using var client = await AgentOsClient.ConnectAsync(options);
        var session = await client.Vm("tls-ok").CreateSessionAsync(TestAgents.Default);

        (await session.SendPromptAsync("ping")).Text.Should().Be("echo: ping");
        _server.Output.Should().Contain($"Orleans gateway 0.0.0.0:{_server.GatewayPort} (mutual TLS)");
    }

    [Fact]
    public async Task WithTheCertificatesAsObjects_TheSdkConnects()
    {
        var options = _server.ClientOptions;
        using var certificate = X509Certificate2.CreateFromPemFile(Path.Combine(fixture.Certs, "client.crt"), Path.Combine(fixture.Certs, "client.key"));
        using var ca = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Path.Combine(fixture.Certs, "ca.crt")));
        options.ClientCertificate = certificate;
        options.CaCertificate = ca;

        await using var client = await AgentOsClient.ConnectAsync(options);

        (await client.Vm("tls-objects").ListSessionsAsync()).Should().BeEmpty();
    }

    [Fact]
    public async Task TheSdkWithoutACertificate_CannotConnect_AndIsToldAboutMutualTls()
    {
        var options = _server.ClientOptions;
        options.ConnectTimeout = AttackTimeout;

        var error = await RefusedAsync<AgentOsException>("tls-no-cert", async vm =>
        {
            await using var client = await AgentOsClient.ConnectAsync(options);
            await client.Vm(vm).CreateSessionAsync(TestAgents.Default);
        });

        error.Code.Should().Be(AgentOsErrorCode.ServerUnavailable);
        error.Message.Should().Contain("mutual TLS").And.Contain("ClientCertificate");
    }

    [Fact]
    public async Task AnOrleansClientSpeakingTlsWithoutACertificate_CannotCallAnyGrain()
    {
        await RefusedAsync<Exception>("tls-anonymous", async vm =>
        {
            var options = _server.ClientOptions;
            options.ConnectTimeout = AttackTimeout;
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.UseOrleansClient(client =>
            {
                client.ConfigureAgentOsClient(options);
                // TLS, trusting whatever the server shows, with no certificate of its own.
                client.UseTls(tls =>
                {
                    tls.ClientCertificateMode = RemoteCertificateMode.NoCertificate;
                    tls.AllowAnyRemoteCertificate();
                });
                client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = AttackTimeout);
            });
            using var host = builder.Build();
            await host.StartAsync();
            await host.Services.GetRequiredService<IClusterClient>().GetGrain<IVmGrain>(vm).CreateSession(TestAgents.Default);
        });
    }

    [Fact]
    public async Task TheSdkWithACertificateFromAnotherCa_CannotCallAnyGrain()
    {
        // The attacker knows the server's CA certificate (it is not secret) and made a CA of the same name.
        var options = _server.ClientOptions;
        options.ConnectTimeout = AttackTimeout;
        options.ClientCertificatePath = Path.Combine(fixture.OtherCerts, "client.crt");
        options.ClientKeyPath = Path.Combine(fixture.OtherCerts, "client.key");
        options.CaCertificatePath = Path.Combine(fixture.Certs, "ca.crt");

        var error = await RefusedAsync<AgentOsException>("tls-other-ca", async vm =>
        {
            await using var client = await AgentOsClient.ConnectAsync(options);
            await client.Vm(vm).CreateSessionAsync(TestAgents.Default);
        });

        error.Code.Should().Be(AgentOsErrorCode.ServerUnavailable);
    }

    [Fact]
    public async Task TheSdkTrustingAnotherCa_RefusesTheServer_AndSaysWhy()
    {
        var options = _server.ClientOptions;
        options.ConnectTimeout = AttackTimeout;
        options.ClientCertificatePath = Path.Combine(fixture.Certs, "client.crt");
        options.ClientKeyPath = Path.Combine(fixture.Certs, "client.key");
        options.CaCertificatePath = Path.Combine(fixture.OtherCerts, "ca.crt");

        var error = await RefusedAsync<AgentOsException>("tls-wrong-trust", async vm =>
        {
            await using var client = await AgentOsClient.ConnectAsync(options);
            await client.Vm(vm).ListSessionsAsync();
        });

        error.Message.Should().Contain("the server's certificate was refused");
    }

    [Fact]
    public async Task TheSiloPort_SpeaksOrleansOnlyToACertificateFromTheCa()
    {
        using var ours = X509Certificate2.CreateFromPemFile(Path.Combine(fixture.Certs, "client.crt"), Path.Combine(fixture.Certs, "client.key"));
        using var theirs = X509Certificate2.CreateFromPemFile(Path.Combine(fixture.OtherCerts, "client.crt"), Path.Combine(fixture.OtherCerts, "client.key"));

        // A silo writes its preamble as soon as a connection is up: bytes back mean "accepted".
        (await FirstBytesFromSiloAsync(ours)).Should().BeGreaterThan(0, "the positive control: the CA's certificate is let in");
        (await FirstBytesFromSiloAsync(theirs)).Should().Be(0, "another CA's certificate is refused");
        (await FirstBytesFromSiloAsync(null)).Should().Be(0, "no certificate is refused");
        (await PlaintextIsRefusedBySiloAsync()).Should().BeTrue("a connection without TLS gets a TLS alert, never an Orleans preamble");
    }

    /// <summary>
    /// Runs an attack on VM <paramref name="vm"/>: it must fail with <typeparamref name="T"/> within the
    /// timeout, and no grain of that VM may have run (its folder is created on first use).
    /// </summary>
    private async Task<T> RefusedAsync<T>(string vm, Func<string, Task> attack)
        where T : Exception
    {
        var stopwatch = Stopwatch.StartNew();

        var error = (await attack.Invoking(a => a(vm)).Should().ThrowAsync<T>()).Which;

        stopwatch.Elapsed.Should().BeLessThan(AttackTimeout + TimeSpan.FromSeconds(10), "a refused client fails fast, it does not hang");
        Directory.Exists(Path.Combine(_server.DataDirectory, "vms", vm)).Should().BeFalse("no call reached VM '{0}'", vm);
        return error;
    }

    /// <summary>
    /// A plain TCP connection to the silo port: true when the silo answers with nothing but a TLS alert and
    /// closes. The bytes sent are a TLS handshake record with a garbage body (a TLS server refuses it at
    /// once) that a plaintext silo reads as the start of a 790-byte Orleans preamble: it waits for the rest
    /// and sends its own preamble meanwhile.
    /// </summary>
    private async Task<bool> PlaintextIsRefusedBySiloAsync()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", _server.SiloPort);
        var stream = tcp.GetStream();
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        await stream.WriteAsync(new byte[] { 0x16, 0x03, 0x00, 0x00, 0x04, 0xFF, 0xFF, 0xFF, 0xFF }, timeout.Token);
        var reply = new List<byte>();
        var buffer = new byte[256];
        while (true)
        {
            int read;
            try
            {
                read = await stream.ReadAsync(buffer, timeout.Token);
            }
            catch (IOException)
            {
                read = 0; // reset
            }

            if (read == 0)
            {
                return reply.Count == 0 || reply[0] == 0x15;
            }

            reply.AddRange(buffer.AsSpan(0, read));
            if (reply[0] != 0x15 || reply.Count > 7)
            {
                return false; // more than one alert record (type 0x15, 7 bytes): Orleans spoke
            }
        }
    }

    /// <summary>TLS to the silo port as a silo would; the number of bytes the silo sends first (0: refused).</summary>
    private async Task<int> FirstBytesFromSiloAsync(X509Certificate2? certificate)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", _server.SiloPort);
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                ClientCertificates = certificate is null ? null : [certificate],
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            }, timeout.Token);
            var buffer = new byte[64];
            return await tls.ReadAsync(buffer, timeout.Token);
        }
        catch (IOException)
        {
            return 0; // the server's alert or reset
        }
        catch (System.Security.Authentication.AuthenticationException)
        {
            return 0;
        }
    }
}

/// <summary>Issue 12: the Orleans ports leave loopback only with mutual TLS.</summary>
public sealed class OrleansListenAddressTests
{
    [Fact]
    public async Task NonLoopbackListenAddress_WithoutTls_RefusesToStart_NamingTheOptionsAndCertsCreate()
    {
        ServerProcess? started = null;
        var act = async () => started = await ServerProcess.StartAsync(new Dictionary<string, string> { ["AgentOs__Orleans__ListenAddress"] = "0.0.0.0" });

        string message;
        try
        {
            message = (await act.Should().ThrowAsync<InvalidOperationException>()).Which.Message;
        }
        finally
        {
            if (started is not null)
            {
                await started.DisposeAsync(); // it started after all: the test failed, the server must not outlive it
            }
        }

        message.Should().Contain("exited with code 1")
            .And.Contain("AgentOs cannot start")
            .And.Contain("AgentOs:Orleans:Tls:CertificatePath").And.Contain("AgentOs:Orleans:Tls:KeyPath").And.Contain("AgentOs:Orleans:Tls:CaCertificatePath")
            .And.Contain("certs create");
    }
}
