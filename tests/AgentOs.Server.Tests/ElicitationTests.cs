using System.Text.Json;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 15, item 2: the agent asks the user for input (ACP <c>elicitation/create</c>, form or URL), routed like a permission
/// request: the session's policy decides, under <see cref="PermissionPolicy.Ask"/> the client answers through the SDK, a
/// request nobody answers is cancelled, and every answer is recorded with who gave it.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ElicitationTests(ClusterFixture fixture)
{
    private static readonly CreateSessionOptions Ask = new() { PermissionPolicy = PermissionPolicy.Ask };

    [Fact]
    public async Task Ask_AFormIsAnswered_WithFieldsThatFitItsSchema_AndTheAnswerIsRecorded()
    {
        var vm = fixture.NewVm();
        using var live = await EventCollector.SubscribeAsync(vm);
        var session = await vm.CreateSessionAsync(TestAgents.Default, Ask);
        var turn = session.SendPromptAsync("elicit form");
        var request = await live.WaitForAsync(e => e.SessionId == session.Id && e.Method == "elicitation/create", "the elicitation");

        var pending = (await session.GetPendingElicitationsAsync()).Should().ContainSingle().Which;
        pending.RequestId.Should().Be(request.Seq);
        pending.Mode.Should().Be("form");
        pending.Message.Should().Be("Who are you?");
        pending.ToolCallId.Should().Be("call_1");
        Json(pending.RequestedSchema!).GetProperty("required")[0].GetString().Should().Be("name");
        pending.ExpiresAt.Should().BeAfter(pending.RequestedAt);
        turn.IsCompleted.Should().BeFalse("the agent waits for the answer");

        await session.RespondElicitationAsync(request.Seq, ElicitationAnswer.Accept(new Dictionary<string, object?> { ["name"] = "Ada", ["age"] = 36, ["color"] = "red", ["tags"] = new[] { "x", "y" } }));

        (await turn).Text.Should().Be("""elicit: accept {"name":"Ada","age":36,"color":"red","tags":["x","y"]}""");
        var answer = Answers(await session.GetEventsAsync()).Single();
        answer.GetProperty("requestSeq").GetInt64().Should().Be(request.Seq);
        answer.GetProperty("reason").GetString().Should().Be("client");
        answer.GetProperty("result").GetProperty("content").GetProperty("name").GetString().Should().Be("Ada");
        (await session.GetPendingElicitationsAsync()).Should().BeEmpty();
        var again = () => session.RespondElicitationAsync(request.Seq, ElicitationAnswer.Decline());
        (await again.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.ElicitationNotPending);
    }

    [Theory]
    [InlineData("""{"name":"Ada","shoe":42}""", "no field 'shoe'")]
    [InlineData("""{"name":7}""", "field 'name' must be of type string")]
    [InlineData("""{"name":"Ada","age":3.5}""", "field 'age' must be of type integer")]
    [InlineData("""{"name":"Ada","color":"blue"}""", "must be one of: red, green")]
    [InlineData("""{"name":"Ada","tags":[1]}""", "field 'tags' must be of type array")]
    [InlineData("""{"age":1}""", "requires name")]
    [InlineData("""[1]""", "must be a JSON object")]
    [InlineData("""{""", "not JSON")]
    public async Task Ask_ContentThatDoesNotFitTheForm_IsRefused_AndTheRequestStillWaits(string content, string why)
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default, Ask);
        var turn = session.SendPromptAsync("elicit form");
        var pending = await WaitForPendingAsync(session);

        var refused = () => session.RespondElicitationAsync(pending.RequestId, ElicitationAnswer.AcceptJson(content));

        var error = (await refused.Should().ThrowAsync<AgentOsException>()).Which;
        error.Code.Should().Be(AgentOsErrorCode.InvalidArgument);
        error.Message.Should().Contain(why).And.Contain("still waits");
        await session.RespondElicitationAsync(pending.RequestId, ElicitationAnswer.Decline());
        (await turn).Text.Should().Be("elicit: decline");
    }

    [Fact]
    public async Task Ask_AUrlElicitation_IsAcceptedWithoutContent_AndItsCompletionIsRecorded()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default, Ask);
        var turn = session.SendPromptAsync("elicit url");
        var pending = await WaitForPendingAsync(session);
        pending.Mode.Should().Be("url");
        pending.Url.Should().Be("https://auth.example.com/login?session=1");
        pending.ElicitationId.Should().Be("el-1");
        pending.RequestedSchema.Should().BeNull();

        var withContent = () => session.RespondElicitationAsync(pending.RequestId, ElicitationAnswer.AcceptJson("""{"password":"x"}"""));
        (await withContent.Should().ThrowAsync<AgentOsException>()).Which.Message.Should().Contain("without content");
        await session.RespondElicitationAsync(pending.RequestId, ElicitationAnswer.Accept());

        (await turn).Text.Should().Be("elicit: accept");
        var events = await session.GetEventsAsync();
        events.Should().ContainSingle(e => e.Method == "elicitation/complete").Which.Params.Should().Contain("el-1");
    }

    [Theory]
    [InlineData(PermissionPolicy.AllowAll)]
    [InlineData(PermissionPolicy.RejectAll)]
    public async Task WithNobodyToAsk_TheAgentIsNotOfferedElicitation_AndOneItSendsAnywayIsDeclined(PermissionPolicy policy)
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default, new CreateSessionOptions { PermissionPolicy = policy });

        var capabilities = Json((await session.SendPromptAsync("info")).Text).GetProperty("clientCapabilities");
        var reply = await session.SendPromptAsync("elicit form");

        capabilities.TryGetProperty("elicitation", out _).Should().BeFalse("nobody would answer");
        reply.Text.Should().Be("elicit: decline");
        Answers(await session.GetEventsAsync()).Single().GetProperty("reason").GetString().Should().Be("policy");
        var asking = await vm.CreateSessionAsync(TestAgents.Default, Ask);
        var offered = Json((await asking.SendPromptAsync("info")).Text).GetProperty("clientCapabilities").GetProperty("elicitation");
        offered.GetRawText().Should().Be("""{"form":{},"url":{}}""", "a session whose client answers offers both modes");
    }

    [Fact]
    public async Task Ask_ARequestNobodyAnswers_IsCancelledAtTheTimeout()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default, new CreateSessionOptions { PermissionPolicy = PermissionPolicy.Ask, PermissionTimeout = TimeSpan.FromMilliseconds(300) });

        var reply = await session.SendPromptAsync("elicit form");

        reply.Text.Should().Be("elicit: cancel");
        Answers(await session.GetEventsAsync()).Single().GetProperty("reason").GetString().Should().Be("timeout");
    }

    [Fact]
    public async Task Ask_CancellingTheTurn_CancelsTheWaitingElicitation()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default, Ask);
        var turn = session.SendPromptAsync("elicit form");
        await WaitForPendingAsync(session);

        await session.CancelAsync();

        var result = await turn;
        result.StopReason.Should().Be("cancelled");
        result.Text.Should().Be("elicit: cancel");
        Answers(await session.GetEventsAsync()).Single().GetProperty("reason").GetString().Should().Be("turn_cancelled");
    }

    [Fact]
    public async Task AnswersOfOneKind_DoNotSettleARequestOfTheOther()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default, Ask);
        var turn = session.SendPromptAsync("elicit form");
        var elicitation = await WaitForPendingAsync(session);

        var asPermission = () => session.RespondPermissionAsync(elicitation.RequestId, "allow");

        var error = (await asPermission.Should().ThrowAsync<AgentOsException>()).Which;
        error.Code.Should().Be(AgentOsErrorCode.PermissionNotPending);
        error.Message.Should().Contain("is elicitation/create, not session/request_permission");
        await session.RespondElicitationAsync(elicitation.RequestId, ElicitationAnswer.Cancel());
        (await turn).Text.Should().Be("elicit: cancel");

        var permissionTurn = session.SendPromptAsync("permission");
        await Poll.UntilAsync(async () => (await session.GetPendingPermissionsAsync()).Count == 1, "the permission request waits");
        var permission = (await session.GetPendingPermissionsAsync()).Single();
        var asElicitation = () => session.RespondElicitationAsync(permission.RequestId, ElicitationAnswer.Decline());
        (await asElicitation.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.ElicitationNotPending);
        await session.RespondPermissionAsync(permission.RequestId, "allow");
        (await permissionTurn).Text.Should().Be("permission: allow");
    }

    private static async Task<PendingElicitation> WaitForPendingAsync(SessionHandle session)
    {
        await Poll.UntilAsync(async () => (await session.GetPendingElicitationsAsync()).Count == 1, "the elicitation waits");
        return (await session.GetPendingElicitationsAsync()).Single();
    }

    private static List<JsonElement> Answers(IReadOnlyList<SessionEvent> events) =>
        [.. events.Where(e => e.Method == AgentOsEventMethods.ClientResponse).Select(e => Json(e.Params)).Where(a => a.GetProperty("method").GetString() == "elicitation/create")];

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
