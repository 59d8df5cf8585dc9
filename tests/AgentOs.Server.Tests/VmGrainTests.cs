using System.Diagnostics;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

[Collection(ClusterCollection.Name)]
public sealed class VmGrainTests(ClusterFixture fixture)
{
    [Fact]
    public async Task CreateSession_ReturnsCapabilitiesAgentInfoModesAndConfigOptions()
    {
        var vm = fixture.NewVm();

        var session = await vm.CreateSessionAsync(TestAgents.Default);

        session.SessionId.Should().NotBeNullOrEmpty();
        session.Info!.AgentType.Should().Be(TestAgents.Default);
        session.Info!.AcpSessionId.Should().StartWith("ts-");
        session.Info!.AgentInfo!.Name.Should().Be("agentos-test-agent");
        session.Info!.Capabilities.LoadSession.Should().BeFalse();
        session.Info!.Capabilities.PromptEmbeddedContext.Should().BeTrue();
        session.Info!.Capabilities.Json.Should().Contain("promptCapabilities");
        session.Info!.Modes!.CurrentModeId.Should().Be("default");
        session.Info!.Modes.AvailableModes.Select(m => m.Id).Should().Equal("default", "plan");
        session.Info!.ConfigOptions.Select(o => o.Category).Should().Equal("model", "thought_level");
        session.Info!.ConfigOptions[0].Options.Select(o => o.Value).Should().Equal("fast", "smart");
        session.Info!.ProcessId.Should().BePositive();
        (await vm.ListSessionsAsync()).Should().Contain(session.SessionId);
    }

    [Fact]
    public async Task SendPrompt_StreamedEventsEqualPersistedEvents_WithGaplessSeq()
    {
        var vm = fixture.NewVm();
        using var live = await EventCollector.SubscribeAsync(vm);
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        var result = await vm.SendPromptAsync(session.SessionId, "chunks 3000");
        await live.WaitForSeqAsync(session.SessionId, result.LastSeq);

        result.StopReason.Should().Be("end_turn");
        result.Text.Should().StartWith("c1 c2 c3 ").And.EndWith("c3000 ");
        var persisted = await vm.GetEventsAsync(session.SessionId);
        var streamed = live.For(session.SessionId);
        persisted.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, persisted.Count).Select(i => (long)i), "seq is 1..N with no gap");
        streamed.Should().Equal(persisted, "every streamed event is persisted, in the same order, with the same content");
        persisted[^1].Seq.Should().Be(result.LastSeq);
        persisted[^1].Method.Should().Be(AgentOsEventMethods.TurnEnd);
        persisted.Count(e => e.GetUpdateKind() == "agent_message_chunk").Should().Be(3000);
        persisted.Should().Contain(e => e.Method == AgentOsEventMethods.Prompt && e.Params.Contains("chunks 3000"));
    }

    [Fact]
    public async Task GetSequencedEvents_ReturnsOnlyEventsAfterSince_UpToLimit()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var result = await vm.SendPromptAsync(session.SessionId, "chunks 50");

        var page = await vm.GetSequencedEventsAsync(session.SessionId, since: 10, limit: 20);
        var rest = await vm.GetSequencedEventsAsync(session.SessionId, since: 30);

        page.Select(e => e.Seq).Should().Equal(Enumerable.Range(11, 20).Select(i => (long)i));
        rest.Select(e => e.Seq).Should().Equal(Enumerable.Range(31, (int)result.LastSeq - 30).Select(i => (long)i));
    }

    [Fact]
    public async Task TwoSessionsInOneVm_PromptAtOnce_EachGaplessAndComplete()
    {
        var vm = fixture.NewVm();
        using var live = await EventCollector.SubscribeAsync(vm);
        var a = await vm.CreateSessionAsync(TestAgents.Default);
        var b = await vm.CreateSessionAsync(TestAgents.Default);

        var results = await Task.WhenAll(vm.SendPromptAsync(a.SessionId, "chunks 2000"), vm.SendPromptAsync(b.SessionId, "chunks 1500"));

        foreach (var (session, result, chunks) in new[] { (a, results[0], 2000), (b, results[1], 1500) })
        {
            await live.WaitForSeqAsync(session.SessionId, result.LastSeq);
            var persisted = await vm.GetEventsAsync(session.SessionId);
            persisted.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, persisted.Count).Select(i => (long)i));
            persisted.Count(e => e.GetUpdateKind() == "agent_message_chunk").Should().Be(chunks);
            live.For(session.SessionId).Should().Equal(persisted);
        }
    }

    [Fact]
    public async Task LongPrompt_DoesNotBlockOtherCallsToTheVm_AndCancelInterleaves()
    {
        var vm = fixture.NewVm();
        var slow = await vm.CreateSessionAsync(TestAgents.Default);
        var slowTurn = vm.SendPromptAsync(slow.SessionId, "sleep 20000");

        var other = await vm.CreateSessionAsync(TestAgents.Default);
        var reply = await vm.SendPromptAsync(other.SessionId, "hello there");
        var history = await vm.GetEventsAsync(other.SessionId);
        var sessions = await vm.ListPersistedSessionsAsync();

        slowTurn.IsCompleted.Should().BeFalse("the 20 s turn is still running while the VM served other calls");
        reply.Text.Should().Be("echo: hello there");
        history.Should().NotBeEmpty();
        sessions.Select(s => s.SessionId).Should().Contain([slow.SessionId, other.SessionId]);

        var stopwatch = Stopwatch.StartNew();
        await vm.CancelPromptAsync(slow.SessionId);
        var cancelled = await slowTurn.WaitAsync(TestTimeouts.Default);
        cancelled.StopReason.Should().Be("cancelled");
        stopwatch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "cancel is honoured long before the 20 s turn would end");
    }

    [Fact]
    public async Task CreateSession_WithUnknownAgentType_ThrowsTypedErrorListingKnownTypes()
    {
        var vm = fixture.NewVm();

        var act = () => vm.CreateSessionAsync("no-such-agent");

        var error = (await act.Should().ThrowAsync<AgentOsException>()).Which;
        error.Code.Should().Be(AgentOsErrorCode.UnknownAgentType);
        error.Message.Should().Contain("no-such-agent").And.Contain(TestAgents.Default).And.Contain("AgentOs__Agents__");
        (await vm.ListPersistedSessionsAsync()).Should().BeEmpty("a bad call changes nothing");
    }

    [Fact]
    public async Task Calls_OnUnknownSession_ThrowUnknownSession()
    {
        var vm = fixture.NewVm();

        var prompt = () => vm.SendPromptAsync("nope", "hi");
        var events = () => vm.GetEventsAsync("nope");
        var cancel = () => vm.CancelPromptAsync("nope");

        (await prompt.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.UnknownSession);
        (await events.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.UnknownSession);
        (await cancel.Should().ThrowAsync<AgentOsException>()).Which.Message.Should().Contain("nope");
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public async Task SendPrompt_WithEmptyPrompt_ThrowsInvalidArgument(string prompt)
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        var act = () => vm.SendPromptAsync(session.SessionId, prompt);

        (await act.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.InvalidArgument);
        (await vm.GetEventsAsync(session.SessionId)).Should().NotContain(e => e.Method == AgentOsEventMethods.Prompt);
    }

    [Fact]
    public async Task CreateSession_WhenAgentExitsAtOnce_ThrowsAgentExitedWithCodeAndStderr_AndVmGoesOn()
    {
        var vm = fixture.NewVm();

        var act = () => vm.CreateSessionAsync(TestAgents.ExitsAtOnce);

        var error = (await act.Should().ThrowAsync<AgentOsException>()).Which;
        error.Code.Should().Be(AgentOsErrorCode.AgentExited);
        error.ExitCode.Should().Be(9);
        error.StderrTail.Should().Contain("exiting at once as asked");
        error.Message.Should().Contain("exit code 9").And.Contain("exiting at once as asked");
        var persisted = (await vm.ListPersistedSessionsAsync()).Should().ContainSingle().Subject;
        persisted.Status.Should().Be(SessionStatus.Crashed);
        (await vm.GetEventsAsync(persisted.SessionId)).Select(e => e.Method).Should().Contain(AgentOsEventMethods.AgentExit);

        var healthy = await vm.CreateSessionAsync(TestAgents.Default);
        (await vm.SendPromptAsync(healthy.SessionId, "still here?")).Text.Should().Be("echo: still here?");
    }

    [Fact]
    public async Task CreateSession_WhenAgentPrintsGarbageAndExits_ThrowsAgentExitedMentioningTheGarbage()
    {
        var vm = fixture.NewVm();

        var act = () => vm.CreateSessionAsync(TestAgents.GarbageThenExit);

        var error = (await act.Should().ThrowAsync<AgentOsException>()).Which;
        error.Code.Should().Be(AgentOsErrorCode.AgentExited);
        error.ExitCode.Should().Be(2);
        error.Message.Should().Contain("not ACP JSON");
        var persisted = (await vm.ListPersistedSessionsAsync()).Single();
        (await vm.GetEventsAsync(persisted.SessionId)).Should().Contain(e => e.Method == AgentOsEventMethods.MalformedOutput);
    }

    [Fact]
    public async Task CreateSession_WhenAgentNeverAnswersSessionNew_ThrowsAgentTimeout()
    {
        var vm = fixture.NewVm();

        var act = () => vm.CreateSessionAsync(TestAgents.HangsOnNew);

        var error = (await act.Should().ThrowAsync<AgentOsException>()).Which;
        error.Code.Should().Be(AgentOsErrorCode.AgentTimeout);
        error.Message.Should().Contain("session/new");
        (await vm.ListSessionsAsync()).Should().BeEmpty("the hung agent was stopped");
    }

    [Fact]
    public async Task SendPrompt_WhenAgentCrashesMidTurn_ThrowsAgentExited_RecordsIt_AndOtherSessionsGoOn()
    {
        var vm = fixture.NewVm();
        var doomed = await vm.CreateSessionAsync(TestAgents.Default);
        var survivor = await vm.CreateSessionAsync(TestAgents.Default);

        var act = () => vm.SendPromptAsync(doomed.SessionId, "crash 42");

        var error = (await act.Should().ThrowAsync<AgentOsException>()).Which;
        error.Code.Should().Be(AgentOsErrorCode.AgentExited);
        error.ExitCode.Should().Be(42);
        error.StderrTail.Should().Contain("crashing as asked");
        var events = await vm.GetEventsAsync(doomed.SessionId);
        events.Select(e => e.Method).Should().ContainInOrder(AgentOsEventMethods.Prompt, AgentOsEventMethods.TurnEnd);
        events.Should().Contain(e => e.Method == AgentOsEventMethods.AgentExit && e.Params.Contains("\"exitCode\":42"));
        events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, events.Count).Select(i => (long)i));
        (await vm.SendPromptAsync(survivor.SessionId, "ok?")).Text.Should().Be("echo: ok?");
        (await vm.ListPersistedSessionsAsync()).Single(s => s.SessionId == doomed.SessionId).Status.Should().Be(SessionStatus.Crashed);
    }

    [Fact]
    public async Task Agent_SeesOnlyItsSessionEnv_NotTheHostEnvironment()
    {
        Environment.SetEnvironmentVariable("AGENTOS_TEST_HOST_SECRET", "host-secret-value");
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default, new CreateSessionOptions
        {
            Env = new Dictionary<string, string> { ["MY_KEY"] = "session-value" },
        });

        (await vm.SendPromptAsync(session.SessionId, "env AGENTOS_TEST_HOST_SECRET")).Text.Should().Be("<unset>");
        (await vm.SendPromptAsync(session.SessionId, "env MY_KEY")).Text.Should().Be("session-value");
        (await vm.SendPromptAsync(session.SessionId, "env HOME")).Text.Should().Be("/home/agentos", "agents run under bubblewrap, where the VM home is /home/agentos");
    }

    [Fact]
    public async Task CreateSession_WithCwdOutsideTheVm_ThrowsInvalidPath_AndCreatesNothing()
    {
        var vm = fixture.NewVm();

        foreach (var cwd in new[] { "/etc", "/home/agentos/../../etc", "relative/path" })
        {
            var act = () => vm.CreateSessionAsync(TestAgents.Default, new CreateSessionOptions { Cwd = cwd });
            (await act.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.InvalidPath);
        }

        (await vm.ListPersistedSessionsAsync()).Should().BeEmpty();
    }

    [Fact]
    public async Task AgentFileWrites_LandInTheVmHome_AndCannotLeaveIt()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        var inside = await vm.SendPromptAsync(session.SessionId, "write /home/agentos/notes/hello.txt hi from the agent");
        var outside = await vm.SendPromptAsync(session.SessionId, "write /home/agentos/../../etc/evil.txt nope");
        var readBack = await vm.SendPromptAsync(session.SessionId, "read /home/agentos/notes/hello.txt");

        inside.Text.Should().Be("wrote /home/agentos/notes/hello.txt");
        File.ReadAllText(Path.Combine(fixture.VmHome(vm.Id), "notes", "hello.txt")).Should().Be("hi from the agent");
        outside.Text.Should().StartWith("write failed:").And.Contain("outside the VM");
        readBack.Text.Should().Be("hi from the agent");
        var events = await vm.GetEventsAsync(session.SessionId);
        events.Count(e => e.Method == "fs/write_text_file").Should().Be(2, "agent requests are part of the transcript");
        events.Count(e => e.Method == AgentOsEventMethods.ClientResponse).Should().Be(3, "and so are the answers");
    }

    [Fact]
    public async Task AgentRequest_ForUnknownMethod_IsAnsweredMethodNotFound_AndRecorded()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        var reply = await vm.SendPromptAsync(session.SessionId, "unknown-request");

        reply.Text.Should().Be("unknown-request: -32601");
        var events = await vm.GetEventsAsync(session.SessionId);
        var request = events.Should().ContainSingle(e => e.Method == "_test/unknown", "the request is recorded as the agent sent it").Which;
        var answer = events.Should().ContainSingle(e => e.Method == AgentOsEventMethods.ClientResponse).Which;
        answer.Params.Should().Contain("-32601").And.Contain($"\"requestSeq\":{request.Seq}");
        answer.Seq.Should().BeGreaterThan(request.Seq);
    }

    [Fact]
    public async Task PermissionRequest_IsAllowed_AndBothRequestAndAnswerAreRecorded()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        var reply = await vm.SendPromptAsync(session.SessionId, "permission");

        reply.Text.Should().Be("permission: allow");
        var events = await vm.GetEventsAsync(session.SessionId);
        var request = events.Single(e => e.Method == "session/request_permission");
        events.Should().Contain(e => e.Method == AgentOsEventMethods.ClientResponse && e.Params.Contains($"\"requestSeq\":{request.Seq}"));
    }

    [Fact]
    public async Task AgentStderr_ReachesOnAgentStderr_WithSessionAndPid()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        await vm.SendPromptAsync(session.SessionId, "stderr a line for the logs");

        fixture.Stderr.Should().Contain(c => c.SessionId == session.SessionId && c.VmId == vm.Id && c.Pid == session.Info!.ProcessId
            && c.AgentType == TestAgents.Default && c.Chunk.Contains("a line for the logs"));
    }

    [Fact]
    public async Task EventsBetweenTurns_AreRecordedInOrder()
    {
        var vm = fixture.NewVm();

        var session = await vm.CreateSessionAsync(TestAgents.Chatty);
        await vm.SendPromptAsync(session.SessionId, "hi");

        var kinds = (await vm.GetEventsAsync(session.SessionId)).Select(e => e.GetUpdateKind() ?? e.Method).ToList();
        kinds.Should().ContainInOrder(AgentOsEventMethods.SessionStart, AgentOsEventMethods.Prompt, "agent_message_chunk", AgentOsEventMethods.TurnEnd);
        kinds.Should().Contain("available_commands_update");
    }

    [Fact]
    public async Task TheVmDatabase_IsAFileUnderTheDataDirectory()
    {
        var vm = fixture.NewVm();
        await vm.CreateSessionAsync(TestAgents.Default);

        File.Exists(Path.Combine(fixture.DataDirectory, "vms", vm.Id, "vm.db")).Should().BeTrue();
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("a//b")]
    [InlineData("a/")]
    [InlineData("/a")]
    [InlineData("a/../b")]
    [InlineData("a+b")]
    [InlineData("a/b/c/d/e")]
    [InlineData("")]
    [InlineData(".hidden")]
    public void Vm_WithInvalidId_IsRejectedBeforeAnyCall(string id)
    {
        var act = () => fixture.Client.Vm(id);

        act.Should().Throw<AgentOsException>().Which.Code.Should().Be(AgentOsErrorCode.InvalidVmId);
    }

    [Fact]
    public async Task Grain_WithInvalidId_RefusesCallsWithTypedError()
    {
        var grain = fixture.Client.ClusterClient.GetGrain<IVmGrain>("../../etc");

        var act = () => grain.ListPersistedSessions();

        (await act.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.InvalidVmId);
        Directory.Exists(Path.Combine(fixture.DataDirectory, "etc")).Should().BeFalse();
    }

    [Fact]
    public async Task Vm_WithASegmentedId_LivesInOneFlatFolder_WithSlashWrittenAsPlus()
    {
        var vm = fixture.Client.Vm("tenant-" + Guid.NewGuid().ToString("N")[..8] + "/project.1");

        await vm.CreateSessionAsync(TestAgents.Default);

        var folder = Path.Combine(fixture.DataDirectory, "vms", vm.Id.Replace('/', '+'));
        File.Exists(Path.Combine(folder, "vm.db")).Should().BeTrue();
        Directory.Exists(Path.Combine(fixture.DataDirectory, "vms", vm.Id.Split('/')[0])).Should().BeFalse("no VM's folder is inside another's");
        VmId.FromDirectoryName(Path.GetFileName(folder)).Should().Be(vm.Id);
        await vm.DestroyAsync();
    }
}
