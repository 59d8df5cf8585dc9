using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests.Http;

/// <summary>
/// The HTTP API's API keys, attacked through a real server listening on 0.0.0.0 (where keys are required): no key, a
/// wrong key, a key of another scope, a read key writing, a write key destroying a VM, and a listing that must not show
/// what a key may not reach. Keys come from the server's own <c>keys create</c> command.
/// </summary>
public sealed class HttpAuthTests
{
    [Fact]
    public async Task BeyondLoopback_WithNoApiKey_TheServerRefusesToStart_WithOneLineSayingWhatToDo()
    {
        var ports = FreePorts.Take(3);
        ServerProcess? started = null;
        var act = async () => started = await ServerProcess.StartAsync(new Dictionary<string, string> { ["ASPNETCORE_URLS"] = $"http://0.0.0.0:{ports[0]}" }, ports: ports);

        string message;
        try
        {
            message = (await act.Should().ThrowAsync<InvalidOperationException>()).Which.Message;
        }
        finally
        {
            if (started is not null)
            {
                await started.DisposeAsync();
            }
        }

        message.Should().Contain("exited with code 1").And.Contain("AgentOs cannot start: HTTP listens beyond loopback")
            .And.Contain("0.0.0.0").And.Contain("keys create");
    }

    [Fact]
    public async Task OnZeroZeroZeroZero_KeysAreRequired_AndNoWrongOrOutOfScopeKeyGetsAnything()
    {
        using var root = new TempDirectory("agentos-keys");
        var data = new Dictionary<string, string> { ["AgentOs__DataDirectory"] = Path.Combine(root.Path, "data") };
        var admin = await CreateKeyAsync(data, "admin", "*");
        var tenantAWrite = await CreateKeyAsync(data, "write", "tenant-a/");
        var tenantARead = await CreateKeyAsync(data, "read", "tenant-a/");

        var keysFile = Path.Combine(root.Path, "data", "api-keys.json");
        var stored = await File.ReadAllTextAsync(keysFile);
        stored.Should().NotContain(admin[4..]).And.NotContain(tenantAWrite[4..]).And.NotContain(tenantARead[4..], "only the keys' SHA-256 is stored");
        if (!OperatingSystem.IsWindows())
        {
            File.GetUnixFileMode(keysFile).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        var ports = FreePorts.Take(3);
        var environment = TestAgents.AsEnvironment(TestAgents.Default);
        environment["ASPNETCORE_URLS"] = $"http://0.0.0.0:{ports[0]}";
        await using var server = await ServerProcess.StartAsync(environment, root.Path, ports);
        using var anonymous = HttpApi.Client(server.BaseAddress);
        using var asAdmin = HttpApi.Client(server.BaseAddress, admin);
        using var asTenantA = HttpApi.Client(server.BaseAddress, tenantAWrite);
        using var asReader = HttpApi.Client(server.BaseAddress, tenantARead);
        var b = await asAdmin.CreateSessionAsync("tenant-b/x");
        var a = await asTenantA.CreateSessionAsync("tenant-a/x");

        // No key.
        foreach (var request in Requests("tenant-a/x", a))
        {
            using var response = await anonymous.SendAsync(request());
            await HttpApi.ExpectProblemAsync(response, HttpStatusCode.Unauthorized, "Unauthorized");
            response.Headers.WwwAuthenticate.Should().ContainSingle(h => h.Scheme == "Bearer");
        }

        // A key of the right shape with another secret, a key of nobody, another scheme.
        var forged = admin[..admin.LastIndexOf('_')] + "_" + new string('A', 43);
        foreach (var header in new[] { "Bearer " + forged, "Bearer aos_000000000000_" + new string('B', 43), "Bearer nonsense", "Basic YWRtaW46YWRtaW4=" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/vms");
            request.Headers.TryAddWithoutValidation("Authorization", header);
            using var response = await anonymous.SendAsync(request);
            await HttpApi.ExpectProblemAsync(response, HttpStatusCode.Unauthorized, "Unauthorized");
        }

        // tenant-a's keys on tenant-b, and on ids that only look like tenant-a's.
        foreach (var (vm, session) in new[] { ("tenant-b/x", b), ("tenant-a", "none"), ("tenant-a.evil/x", "none"), ("tenant-ab/x", "none") })
        {
            foreach (var request in Requests(vm, session))
            {
                using var response = await asTenantA.SendAsync(request());
                (await HttpApi.ExpectProblemAsync(response, HttpStatusCode.Forbidden, "Forbidden"))["detail"]!.GetValue<string>().Should().Contain("tenant-a/");
            }
        }

        // A read key writes nothing; a write key destroys no VM.
        using (var write = await asReader.PostAsJsonAsync("/v1/vms/tenant-a%2Fx/sessions", new { agentType = "test" }))
        {
            (await HttpApi.ExpectProblemAsync(write, HttpStatusCode.Forbidden, "Forbidden"))["detail"]!.GetValue<string>().Should().Contain("read key");
        }

        using (var prompt = await asReader.PostAsJsonAsync(HttpApi.Session("tenant-a/x", a) + "/prompt", new { text = "hi" }))
        {
            await HttpApi.ExpectProblemAsync(prompt, HttpStatusCode.Forbidden, "Forbidden");
        }

        using (var destroy = await asTenantA.DeleteAsync("/v1/vms/tenant-a%2Fx"))
        {
            await HttpApi.ExpectProblemAsync(destroy, HttpStatusCode.Forbidden, "Forbidden");
        }

        // What each key may do, it does; the list shows only what a key reaches.
        (await asReader.GetFromJsonAsync<JsonArray>("/v1/vms/tenant-a%2Fx/sessions"))!.Should().ContainSingle();
        (await asTenantA.PromptAsync("tenant-a/x", a, "chunks 2"))["text"]!.GetValue<string>().Should().Be("c1 c2 ");
        Ids(await asTenantA.GetFromJsonAsync<JsonArray>("/v1/vms")).Should().Equal("tenant-a/x");
        Ids(await asReader.GetFromJsonAsync<JsonArray>("/v1/vms")).Should().Equal("tenant-a/x");
        Ids(await asAdmin.GetFromJsonAsync<JsonArray>("/v1/vms")).Should().BeEquivalentTo("tenant-a/x", "tenant-b/x");

        // The description of the API is open; a revoked key stops working within a second.
        (await anonymous.GetAsync("/openapi/v1.json")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await anonymous.GetAsync("/healthz")).StatusCode.Should().Be(HttpStatusCode.OK);
        var id = tenantARead.Split('_')[1];
        var (code, _, stderr) = await ServerCommand.RunAsync(data, "keys", "revoke", id);
        code.Should().Be(0, stderr);
        await Poll.UntilAsync(async () => (await asReader.GetAsync("/v1/vms")).StatusCode == HttpStatusCode.Unauthorized, "the revoked key is refused");
        server.Output.Should().NotContain(admin).And.NotContain(tenantAWrite).And.NotContain(tenantARead, "no key reaches the log");
    }

    [Fact]
    public async Task KeysCommand_RefusesABadRoleOrScope_AndListsKeysWithoutTheirSecret()
    {
        using var root = new TempDirectory("agentos-keys");
        var data = new Dictionary<string, string> { ["AgentOs__DataDirectory"] = Path.Combine(root.Path, "data") };

        (await ServerCommand.RunAsync(data, "keys", "create", "--role", "root")).ExitCode.Should().Be(2);
        (await ServerCommand.RunAsync(data, "keys", "create", "--role", "read", "--scope", "../etc")).ExitCode.Should().Be(2);
        (await ServerCommand.RunAsync(data, "keys", "create", "--scope", "*")).ExitCode.Should().Be(2);
        var key = await CreateKeyAsync(data, "read", "tenant-a/", "team-x/one");

        var (code, list, _) = await ServerCommand.RunAsync(data, "keys", "list");
        code.Should().Be(0);
        list.Should().Contain(key.Split('_')[1]).And.Contain("read").And.Contain("tenant-a/,team-x/one").And.NotContain(key);
    }

    /// <summary>A request of each kind on a VM: list, create, read history, stream, prompt.</summary>
    private static IEnumerable<Func<HttpRequestMessage>> Requests(string vm, string session) =>
    [
        () => new HttpRequestMessage(HttpMethod.Get, $"/v1/vms/{HttpApi.Vm(vm)}/sessions"),
        () => new HttpRequestMessage(HttpMethod.Post, $"/v1/vms/{HttpApi.Vm(vm)}/sessions") { Content = HttpApi.Json("{\"agentType\":\"test\"}") },
        () => new HttpRequestMessage(HttpMethod.Get, HttpApi.Session(vm, session) + "/events"),
        () => new HttpRequestMessage(HttpMethod.Get, HttpApi.Session(vm, session) + "/events/stream"),
        () => new HttpRequestMessage(HttpMethod.Get, $"/v1/vms/{HttpApi.Vm(vm)}/events/stream?since=0"),
        () => new HttpRequestMessage(HttpMethod.Post, HttpApi.Session(vm, session) + "/prompt") { Content = HttpApi.Json("{\"text\":\"hi\"}") },
    ];

    private static IEnumerable<string> Ids(JsonArray? vms) => vms!.Select(v => v!["id"]!.GetValue<string>());

    private static async Task<string> CreateKeyAsync(Dictionary<string, string> data, string role, params string[] scopes)
    {
        var (code, stdout, stderr) = await ServerCommand.RunAsync(data, ["keys", "create", "--role", role, .. scopes.SelectMany(s => new[] { "--scope", s })]);
        code.Should().Be(0, stderr);
        var key = stdout.Split('\n')[0].Trim();
        key.Should().StartWith("aos_");
        return key;
    }
}
