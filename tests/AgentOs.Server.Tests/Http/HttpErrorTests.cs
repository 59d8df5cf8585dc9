using System.Net;
using System.Net.Http.Json;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests.Http;

/// <summary>
/// Every failure a client can cause over HTTP is problem details (RFC 9457) with the AgentOs error code in <c>code</c>
/// and the status that fits it, and changes nothing.
/// </summary>
[Collection(HttpServerCollection.Name)]
public sealed class HttpErrorTests(HttpServerFixture fixture)
{
    private readonly HttpClient _http = fixture.Http;

    private static string NewVm() => $"err-{Guid.NewGuid():N}"[..20];

    [Theory]
    [InlineData("{\"agentType\":", "malformed JSON")]
    [InlineData("[1,2]", "an array where an object belongs")]
    [InlineData("{\"agentType\": 5}", "a number where a string belongs")]
    [InlineData("{}", "no agentType")]
    [InlineData("", "no body")]
    public async Task CreateSession_WithABodyThatIsNotTheRequest_Is400InvalidArgument_NamingTheFault(string body, string because)
    {
        var vm = NewVm();
        using var response = await _http.PostAsync($"/v1/vms/{vm}/sessions", HttpApi.Json(body));

        var problem = await HttpApi.ExpectProblemAsync(response, HttpStatusCode.BadRequest, "InvalidArgument");
        problem["detail"]!.GetValue<string>().Should().NotBeEmpty(because);
        (await _http.GetAsync($"/v1/vms/{vm}")).StatusCode.Should().Be(HttpStatusCode.NotFound, "nothing was created");
    }

    [Fact]
    public async Task CreateSession_WithoutJsonContentType_Is415()
    {
        using var response = await _http.PostAsync($"/v1/vms/{NewVm()}/sessions", new StringContent("{\"agentType\":\"test\"}"));
        await HttpApi.ExpectProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "InvalidArgument");
    }

    [Fact]
    public async Task CreateSession_OfAnUnknownAgentType_Is400UnknownAgentType_ListingTheKnownOnes()
    {
        using var response = await _http.PostAsJsonAsync($"/v1/vms/{NewVm()}/sessions", new { agentType = "typo" });
        (await HttpApi.ExpectProblemAsync(response, HttpStatusCode.BadRequest, "UnknownAgentType"))["detail"]!.GetValue<string>().Should().Contain("test");
    }

    [Theory]
    [InlineData("/etc")]
    [InlineData("/home/agentos/../../root")]
    [InlineData("relative/path")]
    public async Task CreateSession_WithACwdOutsideTheVm_Is400InvalidPath(string cwd)
    {
        using var response = await _http.PostAsJsonAsync($"/v1/vms/{NewVm()}/sessions", new { agentType = "test", cwd });
        await HttpApi.ExpectProblemAsync(response, HttpStatusCode.BadRequest, "InvalidPath");
    }

    [Fact]
    public async Task CreateSession_WithAMalformedMcpServer_Is400InvalidArgument()
    {
        using var wrongType = await _http.PostAsJsonAsync($"/v1/vms/{NewVm()}/sessions", new { agentType = "test", mcpServers = new[] { new { type = "carrier-pigeon", command = "x" } } });
        await HttpApi.ExpectProblemAsync(wrongType, HttpStatusCode.BadRequest, "InvalidArgument");
        using var both = await _http.PostAsJsonAsync($"/v1/vms/{NewVm()}/sessions", new { agentType = "test", mcpServers = new[] { new { type = "local", url = "http://x" } } });
        await HttpApi.ExpectProblemAsync(both, HttpStatusCode.BadRequest, "InvalidArgument");
        using var remote = await _http.PostAsJsonAsync($"/v1/vms/{NewVm()}/sessions", new { agentType = "test", mcpServers = new[] { new { type = "remote", url = "https://mcp.example.com/sse" } } });
        await HttpApi.ExpectProblemAsync(remote, HttpStatusCode.BadRequest, "InvalidArgument"); // the test agent has no mcpCapabilities.http
    }

    [Theory]
    [InlineData("a..b")]
    [InlineData("a%2F%2Fb")]
    [InlineData(".hidden")]
    [InlineData("a%2F..%2Fb")]
    public async Task AnInvalidVmId_Is400InvalidVmId(string vm)
    {
        using var response = await _http.GetAsync($"/v1/vms/{vm}/sessions");
        await HttpApi.ExpectProblemAsync(response, HttpStatusCode.BadRequest, "InvalidVmId");
    }

    [Fact]
    public async Task AnUnknownSession_Is404UnknownSession_ForEveryCallOnIt()
    {
        var vm = NewVm();
        await _http.CreateSessionAsync(vm);
        var session = HttpApi.Session(vm, "nope");

        using var prompt = await _http.PostAsJsonAsync(session + "/prompt", new { text = "hi" });
        await HttpApi.ExpectProblemAsync(prompt, HttpStatusCode.NotFound, "UnknownSession");
        using var events = await _http.GetAsync(session + "/events");
        await HttpApi.ExpectProblemAsync(events, HttpStatusCode.NotFound, "UnknownSession");
        using var stream = await _http.GetAsync(session + "/events/stream");
        await HttpApi.ExpectProblemAsync(stream, HttpStatusCode.NotFound, "UnknownSession");
        using var modes = await _http.GetAsync(session + "/modes");
        await HttpApi.ExpectProblemAsync(modes, HttpStatusCode.NotFound, "UnknownSession");
        using var resume = await _http.PostAsync(session + "/resume", null);
        await HttpApi.ExpectProblemAsync(resume, HttpStatusCode.NotFound, "UnknownSession");
        using var destroy = await _http.DeleteAsync(session);
        await HttpApi.ExpectProblemAsync(destroy, HttpStatusCode.NotFound, "UnknownSession");
    }

    [Fact]
    public async Task APromptOverMaxPromptLength_Is413PayloadTooLarge_AndIsNotSent()
    {
        var vm = NewVm();
        var id = await _http.CreateSessionAsync(vm);
        var before = (await _http.HistoryAsync(vm, id)).Count;

        using var response = await _http.PostAsJsonAsync(HttpApi.Session(vm, id) + "/prompt", new { text = new string('x', 2001) });

        (await HttpApi.ExpectProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "PayloadTooLarge"))["detail"]!.GetValue<string>().Should().Contain("AgentOs:MaxPromptLength");
        (await _http.HistoryAsync(vm, id)).Count.Should().Be(before, "nothing was sent to the agent");
    }

    [Theory]
    [InlineData("{\"text\":\"\"}")]
    [InlineData("{}")]
    [InlineData("{\"text\":\"a\",\"content\":[{\"kind\":\"text\",\"text\":\"b\"}]}")]
    [InlineData("{\"content\":[{\"kind\":\"image\",\"data\":\"AAAA\",\"mimeType\":\"image/png\"}]}")]
    public async Task APromptThatIsEmptyAmbiguousOrBeyondTheAgent_Is400InvalidArgument(string body)
    {
        var vm = NewVm();
        var id = await _http.CreateSessionAsync(vm);

        using var response = await _http.PostAsync(HttpApi.Session(vm, id) + "/prompt", HttpApi.Json(body));

        await HttpApi.ExpectProblemAsync(response, HttpStatusCode.BadRequest, "InvalidArgument");
    }

    [Fact]
    public async Task APromptPastAFullQueue_Is409SessionBusy_AndTheOthersRun()
    {
        var vm = NewVm();
        var id = await _http.CreateSessionAsync(vm);
        await using var events = await SseReader.OpenAsync(_http, HttpApi.Session(vm, id) + "/events/stream");
        var running = _http.PromptAsync(vm, id, "sleep 3000");
        while ((await events.ReadEventAsync()).Json.Method() != "session/update")
        {
        }

        var queued = _http.PromptAsync(vm, id, "chunks 1");
        while ((await events.ReadEventAsync()).Json.Method() != "_agentos/prompt_queued")
        {
        }

        using var third = await _http.PostAsJsonAsync(HttpApi.Session(vm, id) + "/prompt", new { text = "chunks 1" });
        (await HttpApi.ExpectProblemAsync(third, HttpStatusCode.Conflict, "SessionBusy"))["sessionId"]!.GetValue<string>().Should().Be(id);

        using var destroyVm = await _http.DeleteAsync($"/v1/vms/{vm}");
        await HttpApi.ExpectProblemAsync(destroyVm, HttpStatusCode.Conflict, "SessionBusy");
        await HttpApi.ExpectAsync(await _http.PostAsync(HttpApi.Session(vm, id) + "/cancel", null), HttpStatusCode.NoContent);
        (await running)["stopReason"]!.GetValue<string>().Should().Be("cancelled");
        (await queued)["text"]!.GetValue<string>().Should().Be("c1 ");
    }

    [Theory]
    [InlineData("/events?since=-1")]
    [InlineData("/events?limit=0")]
    [InlineData("/events?since=abc")]
    [InlineData("/events/stream?since=abc")]
    public async Task ABadSinceOrLimit_Is400(string query)
    {
        var vm = NewVm();
        var id = await _http.CreateSessionAsync(vm);

        using var response = await _http.GetAsync(HttpApi.Session(vm, id) + query);

        await HttpApi.ExpectProblemAsync(response, HttpStatusCode.BadRequest, "InvalidArgument");
    }

    [Fact]
    public async Task AMalformedVmCursor_Is400InvalidArgument()
    {
        using var response = await _http.GetAsync($"/v1/vms/{NewVm()}/events/stream?since=not,a:cursor");
        await HttpApi.ExpectProblemAsync(response, HttpStatusCode.BadRequest, "InvalidArgument");
    }

    [Fact]
    public async Task AnUnknownRouteOrMethod_IsProblemDetailsToo()
    {
        using var route = await _http.GetAsync("/v1/nothing-here");
        await HttpApi.ExpectProblemAsync(route, HttpStatusCode.NotFound, "NotFound");
        using var method = await _http.PatchAsync($"/v1/vms/{NewVm()}/sessions", HttpApi.Json("{}"));
        await HttpApi.ExpectProblemAsync(method, HttpStatusCode.MethodNotAllowed, "MethodNotAllowed");
    }
}
