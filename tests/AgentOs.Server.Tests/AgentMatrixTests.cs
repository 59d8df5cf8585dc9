using System.Diagnostics;
using System.Text.Json;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AgentOs.Server.Tests;

/// <summary>
/// The agent matrix (issue 15, the README's agent × capability table): what every built-in agent is held to, each
/// test through the SDK against a real server with the agent in a bubblewrap VM and the fake LLM on loopback. A
/// derived class per agent type, with that agent's fixture, runs them all; what was measured goes to the test's output.
/// </summary>
public abstract class AgentMatrixTests(RealAgentFixture fixture, ITestOutputHelper output)
{
    /// <summary>How an agent's file write reaches the VM.</summary>
    public enum FileWrite
    {
        /// <summary>The agent writes the file itself, inside its sandbox (pi's write tool, Codex's apply_patch).</summary>
        ByTheAgent,

        /// <summary>The agent asks the client: ACP <c>fs/write_text_file</c>, which the server performs beneath the VM home.</summary>
        ThroughFsWrite,
    }

    /// <summary>How this agent's file write reaches the VM.</summary>
    protected abstract FileWrite Writes { get; }

    /// <summary>Whether this agent asks permission before it writes (pi has no permission requests at all).</summary>
    protected abstract bool AsksPermission { get; }

    /// <summary>The fake LLM's API this agent calls: <c>chat</c>, <c>anthropic</c> or <c>responses</c>.</summary>
    protected abstract string LlmApi { get; }

    private string Agent => fixture.AgentType;

    /// <summary>Create: a session starts in the sandbox and a plain prompt streams the fake LLM's text, which it got on the agent's API.</summary>
    [Fact]
    public async Task ASessionStarts_InTheSandbox_AndAnswersFromTheFakeLlm()
    {
        var session = await fixture.CreateSessionAsync();
        var before = fixture.Llm.Log().Count;

        var reply = await session.SendPromptAsync("Say hello");

        reply.StopReason.Should().Be("end_turn");
        reply.Text.Should().Contain("Hello from the fake LLM.");
        fixture.Llm.Log().Skip(before).Should().Contain(r => r.Api == LlmApi && r.Rule == "default", $"{Agent} calls the fake LLM's {LlmApi} endpoint");
        var events = await session.GetEventsAsync();
        Json(events.First(e => e.Method == AgentOsEventMethods.AgentStart)).GetProperty("sandbox").GetString().Should().Be("bubblewrap");
        session.Info!.AgentInfo.Should().NotBeNull();
    }

    /// <summary>File write: the agent writes a file in the VM's home, and the test finds it on disk.</summary>
    [Fact]
    public async Task AFileItWrites_IsInTheVmHome()
    {
        var session = await fixture.CreateSessionAsync();
        var content = $"written by {Agent}";

        var reply = await session.SendPromptAsync($"write file /home/agentos/matrix.txt {content}");

        reply.StopReason.Should().Be("end_turn");
        File.ReadAllText(Path.Combine(fixture.VmHome(session.Vm.Id), "matrix.txt")).TrimEnd('\n').Should().Be(content);
        var events = await session.GetEventsAsync();
        events.Should().Contain(e => e.GetUpdateKind() == "tool_call", "the write is a tool call in the transcript");
        var fsWrites = events.Where(e => e.Method == "fs/write_text_file").ToList();
        if (Writes == FileWrite.ThroughFsWrite)
        {
            fsWrites.Should().ContainSingle($"{Agent} delegates the write to the client").Which.Params.Should().Contain("/home/agentos/matrix.txt");
        }
        else
        {
            fsWrites.Should().BeEmpty($"{Agent} writes the file itself");
        }
    }

    /// <summary>Streaming: 250 chunks, each an event; what the SDK streamed live is exactly what was persisted.</summary>
    [Fact]
    public async Task Streams250Chunks_LiveEqualsPersisted()
    {
        const int Chunks = 250;
        var session = await fixture.CreateSessionAsync();
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        var live = UntilTurnEndAsync(session.StreamEventsAsync(cancellationToken: timeout.Token));

        var reply = await session.SendPromptAsync($"chunks {Chunks}");
        var streamed = await live;

        reply.StopReason.Should().Be("end_turn");
        streamed.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, (int)reply.LastSeq).Select(i => (long)i), "every seq once, none missing");
        streamed.Should().Equal((await session.GetEventsAsync()).Where(e => e.Seq <= reply.LastSeq), "live equals persisted");
        var chunks = streamed.Where(e => e.GetUpdateKind() == "agent_message_chunk" && !string.IsNullOrEmpty(e.GetText())).ToList();
        chunks.Count.Should().BeGreaterThanOrEqualTo(200, "each of the LLM's chunks reaches the client as its own event");
        var text = string.Concat(chunks.Select(e => e.GetText()));
        text.Should().Contain(string.Concat(Enumerable.Range(0, Chunks).Select(i => $"w{i} ")).TrimEnd(), "every chunk, in order");
        output.WriteLine($"{Agent}: {Chunks} LLM chunks → {chunks.Count} agent_message_chunk events");
    }

    /// <summary>Cancel: a slow turn is cancelled; the agent ends it by itself (not forced) and closes the LLM's stream.</summary>
    [Fact]
    public async Task ASlowTurn_IsCancelledByTheAgent_WithinTheGracePeriod()
    {
        var session = await fixture.CreateSessionAsync();
        using var live = await EventCollector.SubscribeAsync(session.Vm);
        var turn = session.SendPromptAsync("Tell it slow please");
        await live.WaitForAsync(e => e.SessionId == session.Id && e.GetUpdateKind() == "agent_message_chunk" && e.GetText()?.Contains("tick", StringComparison.Ordinal) == true,
            "a first chunk of the slow stream");

        var clock = Stopwatch.StartNew();
        await session.CancelAsync();
        var cancelled = await turn.WaitAsync(TestTimeouts.Default);
        clock.Stop();

        output.WriteLine($"{Agent}: cancel → turn ended in {clock.ElapsedMilliseconds} ms");
        cancelled.StopReason.Should().Be("cancelled");
        var turnEnd = Json((await session.GetEventsAsync()).Last(e => e.Method == AgentOsEventMethods.TurnEnd));
        turnEnd.TryGetProperty("forced", out _).Should().BeFalse($"{Agent} ended the turn itself, within the cancel grace period");
        clock.Elapsed.Should().BeLessThan(ClusterFixture.CancelGracePeriod);
        await Poll.UntilAsync(() => fixture.Llm.Events().Any(e => e.Event == "client_closed" && e.Rule == "slow"), $"{Agent} closes the LLM's stream on cancel");
        (await session.SendPromptAsync("Say hello again")).Text.Should().Contain("Hello from the fake LLM.", "the session goes on");
    }

    /// <summary>Sleep and resume: the VM sleeps (its agent stopped, not killed); the next prompt resumes the session and the earlier conversation reaches the LLM.</summary>
    [Fact]
    public async Task AfterSleep_ResumesWithTheEarlierConversation()
    {
        var session = await fixture.CreateSessionAsync();
        await session.SendPromptAsync("Remember the word pineapple-7");

        var clock = Stopwatch.StartNew();
        await session.Vm.SleepAsync();
        await AgentProcesses.WaitForExitAsync(session.Info!.ProcessId);
        clock.Stop();
        var exit = AssertNotKilled(await session.GetEventsAsync());

        var before = fixture.Llm.Log().Count;
        var reply = await session.SendPromptAsync("Which word did I ask you to remember?");

        reply.StopReason.Should().Be("end_turn");
        fixture.Llm.Log().Skip(before).Should().Contain(r => r.Conversation.Contains("pineapple-7", StringComparison.Ordinal) && r.Conversation.Contains("Which word did I ask you to remember?", StringComparison.Ordinal),
            "the resumed agent sends the earlier conversation with the new prompt");
        var resume = Json((await session.GetEventsAsync()).Should().ContainSingle(e => e.Method == AgentOsEventMethods.Resume).Which);
        output.WriteLine($"{Agent}: sleep stopped the agent in {clock.ElapsedMilliseconds} ms ({exit}); resumed by {resume.GetProperty("restore").GetString()}");
    }

    /// <summary>
    /// Permission Ask: the agent asks before it writes; the request waits for the client, whose answer lets the write
    /// happen. An agent without permission requests writes unasked, and the transcript holds no request.
    /// </summary>
    [Fact]
    public async Task WithAsk_AWriteWaitsForTheClientsAnswer_WhereTheAgentAsks()
    {
        var session = await fixture.CreateSessionAsync(options: new CreateSessionOptions { PermissionPolicy = PermissionPolicy.Ask });
        var file = Path.Combine(fixture.VmHome(session.Vm.Id), "asked.txt");
        var turn = session.SendPromptAsync("write file /home/agentos/asked.txt allowed by the client");

        if (AsksPermission)
        {
            PendingPermission? pending = null;
            await Poll.UntilAsync(async () => (pending = (await session.GetPendingPermissionsAsync()).FirstOrDefault()) is not null, $"{Agent} asks before writing");
            turn.IsCompleted.Should().BeFalse("the agent waits for the answer");
            File.Exists(file).Should().BeFalse("nothing is written before the client allows it");
            await session.RespondPermissionAsync(pending!.RequestId, pending.Options.First(o => o.Kind == "allow_once").OptionId);
            output.WriteLine($"{Agent}: asked with options {string.Join(", ", pending.Options.Select(o => $"{o.OptionId} ({o.Kind})"))}");
        }

        (await turn.WaitAsync(TestTimeouts.Default)).StopReason.Should().Be("end_turn");
        File.ReadAllText(file).TrimEnd('\n').Should().Be("allowed by the client");
        var events = await session.GetEventsAsync();
        if (AsksPermission)
        {
            var answer = Json(events.Single(e => e.Method == AgentOsEventMethods.ClientResponse && e.Params.Contains("\"method\":\"session/request_permission\"", StringComparison.Ordinal)));
            answer.GetProperty("reason").GetString().Should().Be("client");
        }
        else
        {
            events.Should().NotContain(e => e.Method == "session/request_permission", $"{Agent} has no permission requests");
        }
    }

    /// <summary>Graceful stop: closing the session stops the agent by itself (stdin's EOF or SIGTERM), never by a kill.</summary>
    [Fact]
    public async Task Close_StopsItWithoutAKill()
    {
        var session = await fixture.CreateSessionAsync();
        await session.SendPromptAsync("Say hello");

        var clock = Stopwatch.StartNew();
        await session.CloseAsync();
        clock.Stop();

        var exit = AssertNotKilled(await session.GetEventsAsync());
        output.WriteLine($"{Agent}: close stopped the agent in {clock.ElapsedMilliseconds} ms ({exit})");
        await AgentProcesses.WaitForExitAsync(session.Info!.ProcessId);
    }

    /// <summary>The last <c>_agentos/agent_exit</c>: expected, and not by SIGKILL (AgentOs kills only an agent that outlived its SIGTERM's grace). Returns how it ended.</summary>
    private string AssertNotKilled(IReadOnlyList<SessionEvent> events)
    {
        var exit = Json(events.Last(e => e.Method == AgentOsEventMethods.AgentExit));
        var code = exit.GetProperty("exitCode").GetInt32();
        var how = exit.TryGetProperty("signal", out var signal) ? $"signal {signal.GetInt32()}" : $"exit code {code}";
        exit.GetProperty("expected").GetBoolean().Should().BeTrue();
        code.Should().NotBe(137, $"{Agent} must stop without a kill ({how}; stderr: {exit.GetProperty("stderrTail").GetString()})");
        return how;
    }

    private static async Task<List<SessionEvent>> UntilTurnEndAsync(IAsyncEnumerable<SessionEvent> events)
    {
        var seen = new List<SessionEvent>();
        await foreach (var e in events)
        {
            seen.Add(e);
            if (e.Method == AgentOsEventMethods.TurnEnd)
            {
                break;
            }
        }

        return seen;
    }

    private static JsonElement Json(SessionEvent e) => JsonDocument.Parse(e.Params).RootElement;
}
