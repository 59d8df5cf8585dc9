using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests.Http;

/// <summary>Every VM-grain call over the HTTP API of a real server, with a plain <see cref="HttpClient"/>.</summary>
[Collection(HttpServerCollection.Name)]
public sealed class HttpApiTests(HttpServerFixture fixture)
{
    private readonly HttpClient _http = fixture.Http;

    private static string NewVm(string prefix = "http") => $"{prefix}-{Guid.NewGuid():N}"[..20];

    [Fact]
    public async Task Session_OverHttp_CreatesPromptsReadsHistoryClosesResumesAndDestroys()
    {
        var vm = NewVm("tenant") + "/life"; // a VM id with a '/', written %2F in the path
        using (var created = await _http.PostAsJsonAsync($"/v1/vms/{HttpApi.Vm(vm)}/sessions", new { agentType = "test", env = new Dictionary<string, string> { ["GREETING"] = "hi" } }))
        {
            await HttpApi.ExpectAsync(created, HttpStatusCode.Created);
            var info = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
            info["agentType"]!.GetValue<string>().Should().Be("test");
            info["capabilities"]!["promptCapabilities"].Should().NotBeNull("capabilities are the agent's own ACP object");
            info["agentInfo"]!["name"]!.GetValue<string>().Should().Be("agentos-test-agent");
            created.Headers.Location!.ToString().Should().EndWith("sessions/" + info["sessionId"]);
        }

        var id = (await _http.GetFromJsonAsync<JsonArray>($"/v1/vms/{HttpApi.Vm(vm)}/sessions"))!.Single()!["sessionId"]!.GetValue<string>();
        (await _http.GetFromJsonAsync<JsonArray>($"/v1/vms/{HttpApi.Vm(vm)}/sessions/live"))!.Select(n => n!.GetValue<string>()).Should().Equal(id);
        (await _http.GetFromJsonAsync<JsonObject>(HttpApi.Session(vm, id)))!["status"]!.GetValue<string>().Should().Be("active");

        var reply = await _http.PromptAsync(vm, id, "chunks 3");
        reply["stopReason"]!.GetValue<string>().Should().Be("end_turn");
        reply["text"]!.GetValue<string>().Should().Be("c1 c2 c3 ");
        var lastSeq = reply["lastSeq"]!.GetValue<long>();
        (await _http.PromptAsync(vm, id, "env GREETING"))["text"]!.GetValue<string>().Should().Contain("hi");

        var page = (await _http.GetFromJsonAsync<JsonObject>(HttpApi.Session(vm, id) + "/events?since=1&limit=2"))!;
        page["events"]!.AsArray().Select(e => e!.AsObject().Seq()).Should().Equal(2, 3);
        page["more"]!.GetValue<bool>().Should().BeTrue();
        var first = page["events"]![0]!.AsObject();
        first["sessionId"]!.GetValue<string>().Should().Be(id);
        DateTimeOffset.Parse(first["createdAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture).Should().BeCloseTo(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5));
        var all = await _http.HistoryAsync(vm, id);
        all.Select(e => e.Seq()).Should().Equal(Enumerable.Range(1, all.Count).Select(i => (long)i));
        all.Should().Contain(e => e.Seq() == lastSeq && e.Method() == "_agentos/turn_end");
        all.Where(e => e.Method() == "session/update").Select(e => e["event"]!["params"]!["update"]!["content"]!["text"]!.GetValue<string>())
            .Should().StartWith(["c1 ", "c2 ", "c3 "], "params are the agent's JSON as it sent it");
        (await _http.GetFromJsonAsync<JsonObject>(HttpApi.Session(vm, id) + $"/events?since={all.Count}"))!["events"]!.AsArray().Should().BeEmpty();

        using (var close = await _http.PostAsync(HttpApi.Session(vm, id) + "/close", null))
        {
            await HttpApi.ExpectAsync(close, HttpStatusCode.NoContent);
        }

        (await _http.GetFromJsonAsync<JsonArray>($"/v1/vms/{HttpApi.Vm(vm)}/sessions/live")).Should().BeEmpty();
        using (var resumed = await _http.PostAsync(HttpApi.Session(vm, id) + "/resume", null))
        {
            await HttpApi.ExpectAsync(resumed, HttpStatusCode.OK);
            (await resumed.Content.ReadFromJsonAsync<JsonObject>())!["sessionId"]!.GetValue<string>().Should().Be(id);
        }

        (await _http.PromptAsync(vm, id, "hello"))["lastSeq"]!.GetValue<long>().Should().BeGreaterThan(all.Count, "seq continues after a resume");
        using (var destroyed = await _http.DeleteAsync(HttpApi.Session(vm, id)))
        {
            await HttpApi.ExpectAsync(destroyed, HttpStatusCode.NoContent);
        }

        using var gone = await _http.GetAsync(HttpApi.Session(vm, id));
        await HttpApi.ExpectProblemAsync(gone, HttpStatusCode.NotFound, "UnknownSession");
    }

    [Fact]
    public async Task RuntimeConfig_OverHttp_ListsAndSetsModeModelAndThoughtLevel_AndReportsUsage()
    {
        var vm = NewVm();
        var id = await _http.CreateSessionAsync(vm);
        var session = HttpApi.Session(vm, id);

        var modes = (await _http.GetFromJsonAsync<JsonObject>(session + "/modes"))!;
        modes["currentModeId"]!.GetValue<string>().Should().Be("default");
        modes["availableModes"]!.AsArray().Select(m => m!["id"]!.GetValue<string>()).Should().Contain("plan");
        (await _http.PutAsJsonAsync(session + "/mode", new { modeId = "plan" })).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await _http.PutAsJsonAsync(session + "/model", new { modelId = "smart" })).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await _http.PutAsJsonAsync(session + "/thought-level", new { level = "high" })).StatusCode.Should().Be(HttpStatusCode.NoContent);

        (await _http.GetFromJsonAsync<JsonObject>(session + "/modes"))!["currentModeId"]!.GetValue<string>().Should().Be("plan");
        var options = (await _http.GetFromJsonAsync<JsonArray>(session + "/config-options"))!;
        options.Single(o => o!["category"]!.GetValue<string>() == "model")!["currentValue"]!.GetValue<string>().Should().Be("smart");
        options.Single(o => o!["category"]!.GetValue<string>() == "thought_level")!["currentValue"]!.GetValue<string>().Should().Be("high");

        using var unknown = await _http.PutAsJsonAsync(session + "/mode", new { modeId = "nonsense" });
        (await HttpApi.ExpectProblemAsync(unknown, HttpStatusCode.BadRequest, "InvalidArgument"))["detail"]!.GetValue<string>().Should().Contain("plan");

        await _http.PromptAsync(vm, id, "usage");
        var usage = (await _http.GetFromJsonAsync<JsonObject>(session + "/usage"))!;
        usage["tokens"]!["inputTokens"]!.GetValue<long>().Should().Be(100);
        usage["turnsWithUsage"]!.GetValue<int>().Should().Be(1);
    }

    [Fact]
    public async Task Permissions_OverHttp_AreListedAndAnswered()
    {
        var vm = NewVm();
        var id = await _http.CreateSessionAsync(vm, new { agentType = "test", permissionPolicy = "ask", permissionTimeoutSeconds = 60 });
        var session = HttpApi.Session(vm, id);
        var turn = _http.PromptAsync(vm, id, "permission");

        JsonArray pending = [];
        await Poll.UntilAsync(async () => (pending = (await _http.GetFromJsonAsync<JsonArray>(session + "/permissions"))!).Count == 1, "the permission request waits");
        var request = pending[0]!.AsObject();
        request["params"]!["toolCall"].Should().NotBeNull("params are the request's ACP JSON");
        var requestId = request["requestId"]!.GetValue<long>();
        var allow = request["options"]!.AsArray().Single(o => o!["kind"]!.GetValue<string>() == "allow_once")!["optionId"]!.GetValue<string>();

        using (var answered = await _http.PostAsJsonAsync(session + $"/permissions/{requestId}", new { optionId = allow }))
        {
            await HttpApi.ExpectAsync(answered, HttpStatusCode.NoContent);
        }

        (await turn)["text"]!.GetValue<string>().Should().Be($"permission: {allow}");
        using var again = await _http.PostAsJsonAsync(session + $"/permissions/{requestId}", new { optionId = allow });
        await HttpApi.ExpectProblemAsync(again, HttpStatusCode.Conflict, "PermissionNotPending");
    }

    [Fact]
    public async Task Elicitations_OverHttp_AreListedAndAnswered_AndAFormThatDoesNotFitIsRefused()
    {
        var vm = NewVm();
        var id = await _http.CreateSessionAsync(vm, new { agentType = "test", permissionPolicy = "ask", permissionTimeoutSeconds = 60 });
        var session = HttpApi.Session(vm, id);
        var turn = _http.PromptAsync(vm, id, "elicit form");

        JsonArray pending = [];
        await Poll.UntilAsync(async () => (pending = (await _http.GetFromJsonAsync<JsonArray>(session + "/elicitations"))!).Count == 1, "the elicitation waits");
        var request = pending[0]!.AsObject();
        request["mode"]!.GetValue<string>().Should().Be("form");
        request["requestedSchema"]!["properties"]!["name"].Should().NotBeNull("the form's schema is JSON, not a string");
        var requestId = request["requestId"]!.GetValue<long>();

        using (var misfit = await _http.PostAsJsonAsync(session + $"/elicitations/{requestId}", new { action = "accept", content = new { age = "not a number" } }))
        {
            await HttpApi.ExpectProblemAsync(misfit, HttpStatusCode.BadRequest, "InvalidArgument");
        }

        using (var answered = await _http.PostAsJsonAsync(session + $"/elicitations/{requestId}", new { action = "accept", content = new { name = "Ada", age = 36 } }))
        {
            await HttpApi.ExpectAsync(answered, HttpStatusCode.NoContent);
        }

        var text = (await turn)["text"]!.GetValue<string>();
        text.Should().StartWith("elicit: accept").And.Contain("\"name\":\"Ada\"").And.Contain("\"age\":36");
        using var again = await _http.PostAsJsonAsync(session + $"/elicitations/{requestId}", new { action = "decline" });
        await HttpApi.ExpectProblemAsync(again, HttpStatusCode.Conflict, "ElicitationNotPending");
    }

    [Fact]
    public async Task Cancel_OverHttp_EndsTheRunningTurnAsCancelled()
    {
        var vm = NewVm();
        var id = await _http.CreateSessionAsync(vm);
        await using var events = await SseReader.OpenAsync(_http, HttpApi.Session(vm, id) + "/events/stream");
        var turn = _http.PromptAsync(vm, id, "sleep 20000");
        while ((await events.ReadEventAsync()).Json.Method() != "session/update")
        {
        }

        using (var cancel = await _http.PostAsync(HttpApi.Session(vm, id) + "/cancel", null))
        {
            await HttpApi.ExpectAsync(cancel, HttpStatusCode.NoContent);
        }

        (await turn)["stopReason"]!.GetValue<string>().Should().Be("cancelled");
    }

    [Fact]
    public async Task Prompt_WhoseClientDisconnects_RunsToItsEnd_UnlessItAskedToCancel()
    {
        var vm = NewVm();
        var id = await _http.CreateSessionAsync(vm);
        var session = HttpApi.Session(vm, id);

        await AbandonAsync(session + "/prompt", "sleep 1500");
        await Poll.UntilAsync(async () => (await _http.HistoryAsync(vm, id)).Any(e => e.Method() == "_agentos/turn_end"), "the abandoned turn ends");
        (await _http.HistoryAsync(vm, id)).Last(e => e.Method() == "_agentos/turn_end")["event"]!["params"]!["stopReason"]!.GetValue<string>()
            .Should().Be("end_turn", "a client that goes away does not cancel the turn");

        await AbandonAsync(session + "/prompt?cancelOnDisconnect=true", "sleep 20000");
        await Poll.UntilAsync(async () => (await _http.HistoryAsync(vm, id)).Count(e => e.Method() == "_agentos/turn_end") == 2, "the second turn ends");
        (await _http.HistoryAsync(vm, id)).Last(e => e.Method() == "_agentos/turn_end")["event"]!["params"]!["stopReason"]!.GetValue<string>()
            .Should().Be("cancelled", "the client asked for its turn to be cancelled when it goes");

        // A prompt sent, its first tick seen live, then the connection dropped.
        async Task AbandonAsync(string path, string text)
        {
            var before = (await _http.HistoryAsync(vm, id)).Count;
            await using var events = await SseReader.OpenAsync(_http, session + $"/events/stream?since={before}");
            using var abandon = new CancellationTokenSource();
            var prompt = _http.PostAsJsonAsync(path, new { text }, abandon.Token);
            while ((await events.ReadEventAsync()).Json.Method() != "session/update")
            {
            }

            await abandon.CancelAsync();
            await FluentActions.Awaiting(() => prompt).Should().ThrowAsync<OperationCanceledException>();
        }
    }

    [Fact]
    public async Task Vms_AreListedGotInspectedPutToSleepAndDestroyed()
    {
        var vm = NewVm("vms") + "/one";
        await _http.CreateSessionAsync(vm);

        (await _http.GetFromJsonAsync<JsonArray>("/v1/vms"))!.Select(v => v!["id"]!.GetValue<string>()).Should().Contain(vm);
        (await _http.GetFromJsonAsync<JsonObject>($"/v1/vms/{HttpApi.Vm(vm)}"))!["active"]!.GetValue<bool>().Should().BeTrue();
        var info = (await _http.GetFromJsonAsync<JsonObject>($"/v1/vms/{HttpApi.Vm(vm)}/info"))!;
        info["vmId"]!.GetValue<string>().Should().Be(vm);
        info["agents"]!.AsArray().Should().ContainSingle();

        using (var sleep = await _http.PostAsync($"/v1/vms/{HttpApi.Vm(vm)}/sleep", null))
        {
            await HttpApi.ExpectAsync(sleep, HttpStatusCode.NoContent);
        }

        await Poll.UntilAsync(async () => !(await _http.GetFromJsonAsync<JsonObject>($"/v1/vms/{HttpApi.Vm(vm)}"))!["active"]!.GetValue<bool>(), "the VM sleeps");
        (await _http.GetFromJsonAsync<JsonArray>($"/v1/vms/{HttpApi.Vm(vm)}/sessions"))!.Single()!["status"]!.GetValue<string>().Should().Be("suspended");

        using (var destroy = await _http.DeleteAsync($"/v1/vms/{HttpApi.Vm(vm)}"))
        {
            await HttpApi.ExpectAsync(destroy, HttpStatusCode.NoContent);
        }

        await Poll.UntilAsync(async () => (await _http.GetAsync($"/v1/vms/{HttpApi.Vm(vm)}")).StatusCode == HttpStatusCode.NotFound, "the destroyed VM is gone");
        (await _http.GetFromJsonAsync<JsonArray>("/v1/vms"))!.Select(v => v!["id"]!.GetValue<string>()).Should().NotContain(vm);
        using var unknown = await _http.GetAsync($"/v1/vms/{NewVm("never")}");
        await HttpApi.ExpectProblemAsync(unknown, HttpStatusCode.NotFound, "NotFound");
    }
}
