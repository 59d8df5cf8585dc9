using System.Text.Json;
using AgentOs.Client;
using AgentOs.Hosting;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>Permission policies: allow all, reject all, or ask the client, who answers with RespondPermission.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PermissionPolicyTests(ClusterFixture fixture)
{
    private const string RequestPermission = "session/request_permission";

    private static readonly CreateSessionOptions Ask = new() { PermissionPolicy = PermissionPolicy.Ask };

    [Fact]
    public async Task AllowAll_IsTheDefault_AndPicksAllowOnce_OverAllowAlways()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        var reply = await vm.SendPromptAsync(session.SessionId, "permission allow_always allow_once reject_once");

        reply.Text.Should().Be("permission: allow_once", "the policy is the standing decision; allow_always would leave traces in the agent");
        var answer = Answer(await vm.GetEventsAsync(session.SessionId));
        answer.GetProperty("reason").GetString().Should().Be("policy");
        new CreateSessionOptions().PermissionPolicy.Should().Be(PermissionPolicy.AllowAll);
    }

    [Fact]
    public async Task RejectAll_PicksRejectOnce_ElseAnswersCancelled()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default, new() { PermissionPolicy = PermissionPolicy.RejectAll });

        (await vm.SendPromptAsync(session.SessionId, "permission")).Text.Should().Be("permission: reject");
        (await vm.SendPromptAsync(session.SessionId, "permission allow_once reject_always")).Text.Should().Be("permission: cancelled", "never a lasting reject_always nobody chose");

        var answers = (await vm.GetEventsAsync(session.SessionId)).Where(e => e.Method == AgentOsEventMethods.ClientResponse).Select(e => Json(e.Params)).ToList();
        answers.Should().HaveCount(2).And.OnlyContain(a => a.GetProperty("reason").GetString() == "policy");
    }

    [Fact]
    public async Task Ask_TheClientAnswersWhileThePromptRuns_AndTheAgentGetsTheChosenOption()
    {
        var vm = fixture.NewVm();
        using var live = await EventCollector.SubscribeAsync(vm);
        var session = await vm.CreateSessionAsync(TestAgents.Default, Ask);
        var turn = vm.SendPromptAsync(session.SessionId, "permission");
        var request = await live.WaitForAsync(e => e.SessionId == session.SessionId && e.Method == RequestPermission, "the permission request");

        var pending = (await vm.GetPendingPermissionsAsync(session.SessionId)).Should().ContainSingle().Which;
        pending.RequestId.Should().Be(request.Seq, "a request is answered by the seq of its event");
        pending.Options.Should().Equal(new PermissionOption("allow", "Allow", "allow_once"), new PermissionOption("reject", "Reject", "reject_once"));
        Json(pending.Params).GetProperty("toolCall").GetProperty("toolCallId").GetString().Should().Be("perm_1");
        pending.ExpiresAt.Should().BeAfter(pending.RequestedAt);
        turn.IsCompleted.Should().BeFalse("the agent waits for the answer");

        // The prompt cannot finish before this answer: it only returns because the VM serves it during the turn.
        await vm.RespondPermissionAsync(session.SessionId, request.Seq, "reject").WaitAsync(TestTimeouts.Default);

        var reply = await turn.WaitAsync(TestTimeouts.Default);
        reply.StopReason.Should().Be("end_turn");
        reply.Text.Should().Be("permission: reject");
        var answer = Answer(await vm.GetEventsAsync(session.SessionId));
        answer.GetProperty("requestSeq").GetInt64().Should().Be(request.Seq);
        answer.GetProperty("reason").GetString().Should().Be("client");
        answer.GetProperty("result").GetProperty("outcome").GetProperty("optionId").GetString().Should().Be("reject");
        (await vm.GetPendingPermissionsAsync(session.SessionId)).Should().BeEmpty();
    }

    [Fact]
    public async Task RespondPermission_RefusesUnknownSessionsRequestsAndOptions_WithTypedErrors()
    {
        var vm = fixture.NewVm();
        using var live = await EventCollector.SubscribeAsync(vm);
        var session = await vm.CreateSessionAsync(TestAgents.Default, Ask);
        var turn = vm.SendPromptAsync(session.SessionId, "permission");
        var request = await live.WaitForAsync(e => e.SessionId == session.SessionId && e.Method == RequestPermission, "the permission request");

        var notOffered = () => vm.RespondPermissionAsync(session.SessionId, request.Seq, "maybe");
        var noSuchRequest = () => vm.RespondPermissionAsync(session.SessionId, request.Seq - 1, "allow");
        var noSuchSession = () => vm.RespondPermissionAsync("nope", request.Seq, "allow");

        var optionError = (await notOffered.Should().ThrowAsync<AgentOsException>()).Which;
        optionError.Code.Should().Be(AgentOsErrorCode.InvalidArgument);
        optionError.Message.Should().Contain("'maybe'").And.Contain("allow, reject");
        (await noSuchRequest.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.PermissionNotPending);
        (await noSuchSession.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.UnknownSession);
        (await vm.GetPendingPermissionsAsync(session.SessionId)).Should().ContainSingle("refused answers leave the request waiting");

        await vm.RespondPermissionAsync(session.SessionId, request.Seq, "allow");
        (await turn.WaitAsync(TestTimeouts.Default)).Text.Should().Be("permission: allow");
        var again = () => vm.RespondPermissionAsync(session.SessionId, request.Seq, "reject");
        var againError = (await again.Should().ThrowAsync<AgentOsException>()).Which;
        againError.Code.Should().Be(AgentOsErrorCode.PermissionNotPending);
        againError.Message.Should().Contain("already answered (client)");
    }

    [Fact]
    public async Task Ask_Unanswered_IsRejectedAtTheTimeout_AndTheTimeoutIsRecorded()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default, Ask with { PermissionTimeout = TimeSpan.FromMilliseconds(300) });

        var reply = await vm.SendPromptAsync(session.SessionId, "permission").WaitAsync(TestTimeouts.Default);

        reply.Text.Should().Be("permission: reject");
        var events = await vm.GetEventsAsync(session.SessionId);
        var answer = Answer(events);
        answer.GetProperty("reason").GetString().Should().Be("timeout");
        answer.GetProperty("requestSeq").GetInt64().Should().Be(events.Single(e => e.Method == RequestPermission).Seq);
        var late = () => vm.RespondPermissionAsync(session.SessionId, answer.GetProperty("requestSeq").GetInt64(), "allow");
        (await late.Should().ThrowAsync<AgentOsException>()).Which.Message.Should().Contain("already answered (timeout)");
    }

    [Fact]
    public async Task CancelPrompt_AnswersAWaitingRequestCancelled_AndTheTurnEndsCancelled()
    {
        var vm = fixture.NewVm();
        using var live = await EventCollector.SubscribeAsync(vm);
        var session = await vm.CreateSessionAsync(TestAgents.Default, Ask);
        var turn = vm.SendPromptAsync(session.SessionId, "permission");
        await live.WaitForAsync(e => e.SessionId == session.SessionId && e.Method == RequestPermission, "the permission request");

        await vm.CancelPromptAsync(session.SessionId);

        var reply = await turn.WaitAsync(TestTimeouts.Default);
        reply.StopReason.Should().Be("cancelled");
        reply.Text.Should().Be("permission: cancelled", "ACP: on session/cancel the client answers pending requests 'cancelled'");
        var events = await vm.GetEventsAsync(session.SessionId);
        var answer = Answer(events);
        answer.GetProperty("reason").GetString().Should().Be("turn_cancelled");
        answer.GetProperty("result").GetProperty("outcome").GetProperty("outcome").GetString().Should().Be("cancelled");
        events.Last(e => e.Method == AgentOsEventMethods.TurnEnd).Params.Should().NotContain("forced", "the agent ended the turn itself");
        (await vm.GetPendingPermissionsAsync(session.SessionId)).Should().BeEmpty();
    }

    [Fact]
    public async Task CloseSession_AnswersAWaitingRequest_SoTheAgentIsNotLeftWaiting()
    {
        var vm = fixture.NewVm();
        using var live = await EventCollector.SubscribeAsync(vm);
        var session = await vm.CreateSessionAsync(TestAgents.Default, Ask);
        var turn = vm.SendPromptAsync(session.SessionId, "permission");
        var request = await live.WaitForAsync(e => e.SessionId == session.SessionId && e.Method == RequestPermission, "the permission request");

        await vm.CloseSessionAsync(session.SessionId);

        // The turn ends either way: with the agent's answer to 'cancelled', or because its agent stopped.
        await turn.ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(TestTimeouts.Default);
        await AgentProcesses.WaitForExitAsync(session.Info!.ProcessId, killIfStillRunning: true);
        var events = await vm.GetEventsAsync(session.SessionId);
        var answer = events.Single(e => e.Method == AgentOsEventMethods.ClientResponse);
        var exit = events.Single(e => e.Method == AgentOsEventMethods.AgentExit);
        Json(answer.Params).GetProperty("reason").GetString().Should().Be("session_stopped");
        answer.Seq.Should().BeLessThan(exit.Seq, "the agent is answered before it is stopped");
        (await vm.GetPendingPermissionsAsync(session.SessionId)).Should().BeEmpty();
        var respond = () => vm.RespondPermissionAsync(session.SessionId, request.Seq, "allow");
        (await respond.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.PermissionNotPending);
    }

    [Fact]
    public async Task ThePolicy_SurvivesResume()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default, new() { PermissionPolicy = PermissionPolicy.RejectAll });
        await vm.CloseSessionAsync(session.SessionId);

        await vm.ResumeSessionAsync(session.SessionId);

        (await vm.SendPromptAsync(session.SessionId, "permission")).Text.Should().StartWith("permission: reject");
        await vm.CloseSessionAsync(session.SessionId);
    }

    [Fact]
    public async Task CreateSession_WithAnUnknownPolicyOrABadTimeout_ThrowsInvalidArgument_AndCreatesNothing()
    {
        var vm = fixture.NewVm();

        var unknownPolicy = () => vm.CreateSessionAsync(TestAgents.Default, new() { PermissionPolicy = (PermissionPolicy)7 });
        var zeroTimeout = () => vm.CreateSessionAsync(TestAgents.Default, Ask with { PermissionTimeout = TimeSpan.Zero });

        (await unknownPolicy.Should().ThrowAsync<AgentOsException>()).Which.Message.Should().Contain("AllowAll, Ask, RejectAll");
        (await zeroTimeout.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.InvalidArgument);
        (await vm.ListPersistedSessionsAsync()).Should().BeEmpty();
    }

    [Fact]
    public void PermissionTimeout_DefaultsTo5Minutes() => new AgentOsOptions().PermissionTimeout.Should().Be(TimeSpan.FromMinutes(5));

    /// <summary>The params of the session's only <c>_agentos/client_response</c>.</summary>
    private static JsonElement Answer(IReadOnlyList<SessionEvent> events) =>
        Json(events.Single(e => e.Method == AgentOsEventMethods.ClientResponse).Params);

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;
}
