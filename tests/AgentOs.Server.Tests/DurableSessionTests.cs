using System.Diagnostics;
using System.Text;
using System.Text.Json;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>Close, destroy, sleep and wake, resume by each restore path, secrets at rest.</summary>
[Collection(ClusterCollection.Name)]
public sealed class DurableSessionTests(ClusterFixture fixture)
{
    [Fact]
    public async Task CloseSession_StopsTheAgent_KeepsHistory_AndTheSessionCanBeResumed()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        await vm.SendPromptAsync(session.SessionId, "first words");
        var before = await vm.GetEventsAsync(session.SessionId);

        await vm.CloseSessionAsync(session.SessionId);

        await AgentProcesses.WaitForExitAsync(session.Info!.ProcessId);
        (await vm.ListSessionsAsync()).Should().NotContain(session.SessionId);
        var after = await vm.GetEventsAsync(session.SessionId);
        after.Take(before.Count).Should().Equal(before, "closing keeps every event");
        after.Should().Contain(e => e.Method == AgentOsEventMethods.AgentExit && e.Params.Contains("\"expected\":true"));
        (await vm.ListPersistedSessionsAsync()).Single().Status.Should().Be(SessionStatus.Closed);

        var resumed = await vm.ResumeSessionAsync(session.SessionId);
        resumed.SessionId.Should().Be(session.SessionId);
        (await vm.SendPromptAsync(session.SessionId, "again")).Text.Should().StartWith("echo: again");
    }

    [Fact]
    public async Task DestroySession_RemovesTheSessionAndEveryEvent()
    {
        var vm = fixture.NewVm();
        var doomed = await vm.CreateSessionAsync(TestAgents.Default);
        var kept = await vm.CreateSessionAsync(TestAgents.Default);
        await vm.SendPromptAsync(doomed.SessionId, "chunks 100");

        await vm.DestroySessionAsync(doomed.SessionId);

        await AgentProcesses.WaitForExitAsync(doomed.Info!.ProcessId);
        (await vm.ListPersistedSessionsAsync()).Select(s => s.SessionId).Should().Equal(kept.SessionId);
        var read = () => vm.GetEventsAsync(doomed.SessionId);
        (await read.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.UnknownSession);
        (await vm.SendPromptAsync(kept.SessionId, "unaffected")).Text.Should().Be("echo: unaffected");
    }

    [Fact]
    public async Task CloseAndDestroy_OnUnknownIds_ThrowUnknownSession()
    {
        var vm = fixture.NewVm();

        var close = () => vm.CloseSessionAsync("no-such-session");
        var destroy = () => vm.DestroySessionAsync("no-such-session");
        var resume = () => vm.ResumeSessionAsync("no-such-session");

        (await close.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.UnknownSession);
        (await destroy.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.UnknownSession);
        (await resume.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.UnknownSession);
    }

    [Fact]
    public async Task Sleep_StopsAgents_HistoryStaysReadable_AndAPromptWakesAndRestoresWithTranscriptContext()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        await vm.SendPromptAsync(session.SessionId, "remember the word pelican");
        var before = await vm.GetEventsAsync(session.SessionId);

        await vm.SleepAsync();
        await AgentProcesses.WaitForExitAsync(session.Info!.ProcessId);

        var asleep = (await vm.ListPersistedSessionsAsync()).Single();
        asleep.Status.Should().Be(SessionStatus.Suspended);
        asleep.LastSeq.Should().BeGreaterThan(before[^1].Seq, "the agent's exit was recorded");
        (await vm.GetSessionEventsAsync(session.SessionId)).Take(before.Count).Should().Equal(before);
        (await vm.ListSessionsAsync()).Should().BeEmpty("reading history starts no agent");

        // The test agent advertises neither session/load nor session/resume: AgentOs falls back to a
        // new ACP session whose first prompt carries the earlier conversation.
        var reply = await vm.SendPromptAsync(session.SessionId, "what was the word?");

        reply.Text.Should().StartWith("echo: what was the word?").And.Contain("[Context restored by AgentOs").And.Contain("User: remember the word pelican");
        var events = await vm.GetEventsAsync(session.SessionId);
        events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), "seq continues across sleep with no gap");
        var resume = events.Single(e => e.Method == AgentOsEventMethods.Resume);
        Json(resume).GetProperty("restore").GetString().Should().Be("context");
        (await vm.ListPersistedSessionsAsync()).Single().Status.Should().Be(SessionStatus.Active);
    }

    [Fact]
    public async Task Resume_WhenAgentSupportsLoadSession_UsesSessionLoad_WithoutStoringTheReplayTwice()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.LoadsSessions);
        await vm.SendPromptAsync(session.SessionId, "hello");
        await vm.SleepAsync();
        await AgentProcesses.WaitForExitAsync(session.Info!.ProcessId);

        var resumed = await vm.ResumeSessionAsync(session.SessionId);
        var info = Json((await vm.SendPromptAsync(session.SessionId, "info")).Text);

        resumed.AcpSessionId.Should().Be(session.Info!.AcpSessionId, "session/load restores the agent's own session");
        info.GetProperty("restoredVia").GetString().Should().Be("load");
        var events = await vm.GetEventsAsync(session.SessionId);
        var resume = Json(events.Single(e => e.Method == AgentOsEventMethods.Resume));
        resume.GetProperty("restore").GetString().Should().Be("load");
        resume.GetProperty("replayedNotifications").GetInt32().Should().Be(1);
        events.Should().NotContain(e => e.GetUpdateKind() == "user_message_chunk", "the agent's replay of history is not stored a second time");
    }

    [Fact]
    public async Task Resume_WhenAgentSupportsOnlySessionResume_UsesSessionResume()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.ResumesSessions);
        await vm.SendPromptAsync(session.SessionId, "hello");
        await vm.SleepAsync();
        await AgentProcesses.WaitForExitAsync(session.Info!.ProcessId);

        await vm.ResumeSessionAsync(session.SessionId);
        var info = Json((await vm.SendPromptAsync(session.SessionId, "info")).Text);

        info.GetProperty("restoredVia").GetString().Should().Be("resume");
        Json((await vm.GetEventsAsync(session.SessionId)).Single(e => e.Method == AgentOsEventMethods.Resume)).GetProperty("restore").GetString().Should().Be("resume");
    }

    [Fact]
    public async Task Sleep_WhilePromptRuns_IsRefused()
    {
        var vm = fixture.NewVm();
        using var live = await EventCollector.SubscribeAsync(vm);
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var turn = vm.SendPromptAsync(session.SessionId, "sleep 20000");
        await live.WaitForAsync(e => e.SessionId == session.SessionId && e.GetText() == "tick ", "the running turn's first tick");

        var sleep = () => vm.SleepAsync();

        (await sleep.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.SessionBusy);
        await vm.CancelPromptAsync(session.SessionId);
        (await turn.WaitAsync(TestTimeouts.Default)).StopReason.Should().Be("cancelled");
    }

    [Fact]
    public async Task Resume_AfterACrashMidTurn_AnswersANewPrompt()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var crash = () => vm.SendPromptAsync(session.SessionId, "crash 5");
        await crash.Should().ThrowAsync<AgentOsException>();

        var reply = await vm.SendPromptAsync(session.SessionId, "back?");

        reply.Text.Should().StartWith("echo: back?");
        var events = await vm.GetEventsAsync(session.SessionId);
        events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, events.Count).Select(i => (long)i));
    }

    [Fact]
    public async Task SessionEnv_IsNeverStoredInPlainText_YetSurvivesSleepForResume()
    {
        const string secret = "sk-agentos-test-very-secret-4711";
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default, new CreateSessionOptions
        {
            Env = new Dictionary<string, string> { ["MY_API_KEY"] = secret },
            McpServers = [new McpServerConfig { Name = "tools", Command = "/bin/true", Env = new Dictionary<string, string> { ["TOKEN"] = secret } }],
        });
        await vm.SendPromptAsync(session.SessionId, "hello");
        await vm.SleepAsync();
        await AgentProcesses.WaitForExitAsync(session.Info!.ProcessId);

        // Checked before the agent is asked to print it (its answer is, rightly, in the transcript).
        var vmDir = Path.Combine(fixture.DataDirectory, "vms", vm.Id);
        foreach (var file in Directory.EnumerateFiles(vmDir, "vm.db*"))
        {
            Encoding.UTF8.GetString(await ReadSharedAsync(file)).Should().NotContain(secret, $"{Path.GetFileName(file)} must not hold the secret in plain text");
        }

        var reply = await vm.SendPromptAsync(session.SessionId, "env MY_API_KEY");

        reply.Text.Should().Be(secret, "the encrypted options give the agent its env back on resume");
    }

    private static JsonElement Json(SessionEvent e) => Json(e.Params);

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static async Task<byte[]> ReadSharedAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer);
        return buffer.ToArray();
    }
}
