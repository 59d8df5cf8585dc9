using System.Diagnostics;
using System.Net;
using System.Text.Json;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>One real server process with a custom agent type "mine" declared through environment variables.</summary>
public sealed class ServerProcessFixture : IAsyncLifetime
{
    internal ServerProcess Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"));

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>The real server, started as a process and driven through the client SDK from this process.</summary>
public sealed class ServerProcessTests(ServerProcessFixture fixture) : IClassFixture<ServerProcessFixture>
{
    private readonly ServerProcess _server = fixture.Server;

    [Fact]
    public async Task RealServer_CustomAgentFromEnvironment_StreamsEventsEqualToPersisted()
    {
        await using var client = await AgentOsClient.ConnectAsync(_server.ClientOptions);
        var vm = client.Vm("e2e");
        using var live = await EventCollector.SubscribeAsync(vm);

        var session = await vm.CreateSessionAsync("mine");
        var result = await vm.SendPromptAsync(session.SessionId, "chunks 5000");
        await live.WaitForSeqAsync(session.SessionId, result.LastSeq);

        var persisted = await vm.GetEventsAsync(session.SessionId);
        persisted.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, (int)result.LastSeq).Select(i => (long)i));
        live.For(session.SessionId).Should().Equal(persisted);
        persisted.Count(e => e.GetUpdateKind() == "agent_message_chunk").Should().Be(5000);
        (await vm.ListPersistedSessionsAsync()).Should().ContainSingle(s => s.SessionId == session.SessionId && s.AgentType == "mine" && s.LastSeq == result.LastSeq);
        File.Exists(Path.Combine(_server.DataDirectory, "vms", "e2e", "vm.db")).Should().BeTrue();
    }

    [Fact]
    public async Task RealServer_BadInput_GetsTypedErrors_AndTheServerKeepsRunning()
    {
        await using var client = await AgentOsClient.ConnectAsync(_server.ClientOptions);
        var vm = client.Vm("bad-input");

        var unknownType = () => vm.CreateSessionAsync("typo");
        var unknownSession = () => vm.SendPromptAsync("nope", "hi");

        (await unknownType.Should().ThrowAsync<AgentOsException>()).Which.Message.Should().Contain("mine").And.Contain("pi");
        (await unknownSession.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.UnknownSession);
        var session = await vm.CreateSessionAsync("mine");
        (await vm.SendPromptAsync(session.SessionId, "ping")).Text.Should().Be("echo: ping");
    }

    [Fact]
    public async Task Healthz_AndVersion_Answer()
    {
        using var http = new HttpClient { BaseAddress = _server.BaseAddress };

        var health = await http.GetAsync(new Uri("/healthz", UriKind.Relative));
        var version = JsonDocument.Parse(await http.GetStringAsync(new Uri("/version", UriKind.Relative))).RootElement;

        health.StatusCode.Should().Be(HttpStatusCode.OK);
        version.GetProperty("agentOs").GetString().Should().NotBeNullOrEmpty();
        version.GetProperty("orleans").GetString().Should().StartWith("10.");
        version.EnumerateObject().Should().OnlyContain(p => !p.Value.GetString()!.Contains('+'), "no build commit hash is shown to unauthenticated callers");
    }

    [Fact]
    public async Task Quickstart_AgainstRealServer_PrintsStreamedEventsAndReply_AndExitsZero()
    {
        var (exitCode, stdout, stderr) = await RunQuickstartAsync("--agent", "mine", "--prompt", "chunks 3", "--env", "MY_KEY=1");

        exitCode.Should().Be(0, stderr);
        stdout.Should().Contain("agent_message_chunk: c1").And.Contain("_agentos/turn_end").And.Contain("Reply (end_turn): c1 c2 c3");
        stdout.Should().Contain("Persisted sessions in VM 'quickstart'");
    }

    [Fact]
    public async Task Quickstart_WithUnknownAgentType_ExitsNonZeroWithAClearMessage()
    {
        var (exitCode, _, stderr) = await RunQuickstartAsync("--agent", "typo", "--prompt", "hi");

        exitCode.Should().NotBe(0);
        stderr.Should().Contain("UnknownAgentType").And.Contain("typo").And.Contain("mine");
    }

    [Fact]
    public async Task SecondServer_OnTheSamePorts_RefusesToStartWithAClearError()
    {
        var act = () => ServerProcess.StartAsync(ports: [FreePorts.Take(1)[0], _server.SiloPort, _server.GatewayPort]);

        (await act.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("already in use");
    }

    [Fact]
    public async Task SecondServer_OnTheSameDataDirectory_RefusesToStart_NamingTheFirstOnesPid()
    {
        // Issue 13, item 3: two servers on one data directory would each keep their own seq cache and resume each other's sessions.
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__DataDirectory"] = _server.DataDirectory;
        var act = () => ServerProcess.StartAsync(env);

        (await act.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should()
            .Contain($"another AgentOs server (pid {_server.Pid})").And.Contain(_server.DataDirectory);
        (await fixture.Server.WaitHealthyAsync(TestTimeouts.Default)).Should().BePositive("the first server goes on");
    }

    [Theory]
    [InlineData("PromptTimeout", "-00:00:01", "AgentOs:PromptTimeout is '-00:00:01'")]
    [InlineData("MaxPromptLength", "-5", "AgentOs:MaxPromptLength is '-5'")]
    [InlineData("NewSessionTimeout", "00:00:00", "AgentOs:NewSessionTimeout is '00:00:00'")]
    [InlineData("MaxQueuedPrompts", "-1", "AgentOs:MaxQueuedPrompts is '-1'")]
    [InlineData("SandboxAllowHostPorts:0", "70000", "AgentOs:SandboxAllowHostPorts is '70000'")]
    [InlineData("VmIdleTimeout", "00:00:00.5", "AgentOs:VmIdleTimeout is '00:00:00.5")]
    [InlineData("StorageRetryTimeout", "00:00:00", "AgentOs:StorageRetryTimeout is '00:00:00'")]
    [InlineData("MinFreeDiskBytes", "-1", "AgentOs:MinFreeDiskBytes is '-1'")]
    [InlineData("Durability", "flash", "flash is not a valid value for Durability")]
    [InlineData("Preinstall:0", "pie", "AgentOs:Preinstall is 'pie'")]
    [InlineData("Agents:mine:ReadOnlyPaths:0", "/no/such/folder", "AgentOs:Agents:mine:ReadOnlyPaths is '/no/such/folder'")]
    [InlineData("Agents:typo:Args:0", "x", "AgentOs:Agents:typo:Command is ''")]
    public async Task ABadOptionValue_StopsTheServerAtStart_WithOneLineNamingTheKeyAndTheValue(string key, string value, string named)
    {
        // Issue 13, item 6: these started fine and then failed every prompt (PromptTimeout with a raw ArgumentOutOfRangeException at the client).
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__" + key.Replace(":", "__", StringComparison.Ordinal)] = value;
        var act = () => ServerProcess.StartAsync(env);

        var message = (await act.Should().ThrowAsync<InvalidOperationException>()).Which.Message;
        message.Should().Contain("AgentOs cannot start: ").And.Contain(named, "the line names the key and the value");
        message.Should().NotContain("   at ", "one line, no stack trace");
    }

    private async Task<(int ExitCode, string Stdout, string Stderr)> RunQuickstartAsync(params string[] args)
    {
        var info = new ProcessStartInfo(TestPaths.Dotnet, [TestPaths.QuickstartDll, "--gateway", $"127.0.0.1:{_server.GatewayPort}", "--cluster", _server.ClusterId, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TestTimeouts.Default);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}

public sealed class ClientConnectionTests
{
    [Fact]
    public async Task Connect_WhenNoServerIsThere_FailsWithServerUnavailableWithinSeconds()
    {
        var port = FreePorts.Take(1)[0];
        var stopwatch = Stopwatch.StartNew();

        var act = () => AgentOsClient.ConnectAsync(new AgentOsClientOptions { GatewayPort = port, ConnectTimeout = TimeSpan.FromSeconds(2) });

        var error = (await act.Should().ThrowAsync<AgentOsException>()).Which;
        error.Code.Should().Be(AgentOsErrorCode.ServerUnavailable);
        error.Message.Should().Contain($"localhost:{port}").And.Contain("Is it running?");
        stopwatch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(20));
    }
}
