using System.Globalization;
using System.Text.Json;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 15, item 2: the client's terminals (ACP <c>terminal/*</c>), driven by the scripted agent against a real silo with
/// bubblewrap on: each command runs in the agent's own sandbox, cwd and env checked as a session's are, its output bounded,
/// its life on record, and every terminal gone when its session stops, sleeps, closes or its agent exits.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class TerminalTests(ClusterFixture fixture)
{
    [Fact]
    public async Task ACommand_RunsInTheAgentsSandbox_AndItsLifeIsOnRecord()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        var reply = await session.SendPromptAsync("terminal echo hi; id -un; pwd; hostname; echo oops >&2; ls /home");

        reply.Text.Should().Be("exit 0\nhi\nagentos\n/home/agentos\nagentos\noops\nagentos\n", "the agent's user, home and host name; stderr interleaved with stdout");
        var events = await session.GetEventsAsync();
        var methods = events.Select(e => e.Method).ToList();
        methods.Should().ContainInOrder("terminal/create", "terminal/wait_for_exit", "terminal/output", "terminal/release");
        var created = Response(events, "terminal/create");
        var id = created.GetProperty("result").GetProperty("terminalId").GetString();
        id.Should().StartWith("term_");
        var exit = Json(events.Single(e => e.Method == AgentOsEventMethods.TerminalExit).Params);
        exit.GetProperty("terminalId").GetString().Should().Be(id);
        exit.GetProperty("exitCode").GetInt32().Should().Be(0);
        exit.GetProperty("reason").GetString().Should().Be("exited");
        exit.GetProperty("output").GetString().Should().Contain("hi\nagentos");
        exit.GetProperty("bytesWritten").GetInt64().Should().Be("hi\nagentos\n/home/agentos\nagentos\noops\nagentos\n".Length);
        Response(events, "terminal/output").GetProperty("result").GetProperty("output").GetString().Should().Be("hi\nagentos\n/home/agentos\nagentos\noops\nagentos\n");
        methods.IndexOf(AgentOsEventMethods.TerminalExit).Should().BeLessThan(methods.IndexOf(AgentOsEventMethods.TurnEnd));
        var info = Json((await session.SendPromptAsync("info")).Text);
        info.GetProperty("clientCapabilities").GetProperty("terminal").GetBoolean().Should().BeTrue("initialize advertises terminals");
    }

    [Fact]
    public async Task ArgsEnvAndCwd_AreHonoured_AndTheExitCodeComesBack()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default, new CreateSessionOptions { Env = new Dictionary<string, string> { ["FROM_SESSION"] = "s" } });
        (await session.SendPromptAsync("sh mkdir -p /home/agentos/sub && echo ok")).Text.Should().Be("exit 0\nok");

        var reply = await session.SendPromptAsync("""terminal-json {"command":"/bin/sh","args":["-c","echo $FOO $FROM_SESSION $HOME; pwd; exit 3"],"env":[{"name":"FOO","value":"bar"}],"cwd":"/home/agentos/sub"}""");

        reply.Text.Should().Be("exit 3\nbar s /home/agentos\n/home/agentos/sub\n", "the agent's environment, the request's on top, in the asked folder");
    }

    [Theory]
    [InlineData("""{"command":"pwd","cwd":"/etc"}""", "outside the VM")]
    [InlineData("""{"command":"pwd","cwd":"/home/agentos/../../etc"}""", "outside the VM")]
    [InlineData("""{"command":"pwd","cwd":"/home/agentos/missing"}""", "not a folder")]
    [InlineData("""{"command":"true","env":[{"name":"LD_PRELOAD","value":"/home/agentos/evil.so"}]}""", "LD_PRELOAD")]
    [InlineData("""{"command":"true","env":[{"name":"A=B","value":"x"}]}""", "not a variable name")]
    [InlineData("""{"command":""}""", "needs a command")]
    public async Task ACwdOutsideTheHome_OrEnvASessionMayNotSet_IsRefused(string request, string why)
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        var reply = await session.SendPromptAsync($"terminal-json {request}");

        reply.Text.Should().StartWith("terminal failed: -32602").And.Contain(why);
        (await session.GetEventsAsync()).Should().NotContain(e => e.Method == AgentOsEventMethods.TerminalExit, "nothing ran");
    }

    [Fact]
    public async Task OutputByteLimit_KeepsTheEnd_CutAtACharacterBoundary()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        var ascii = await session.SendPromptAsync("""terminal-json {"command":"printf","args":["abcdefghij"],"outputByteLimit":4}""");
        // é é € is c3 a9 c3 a9 e2 82 ac: the last 4 bytes start inside the second é, which is left out.
        var utf8 = await session.SendPromptAsync("""terminal-json {"command":"printf","args":["\u00e9\u00e9\u20ac"],"outputByteLimit":4}""");
        var whole = await session.SendPromptAsync("""terminal-json {"command":"printf","args":["abc"],"outputByteLimit":3}""");

        ascii.Text.Should().Be("exit 0 truncated\nghij");
        utf8.Text.Should().Be("exit 0 truncated\n\u20ac");
        whole.Text.Should().Be("exit 0\nabc", "exactly the limit is not truncated");
    }

    [Fact]
    public async Task Output_IsBoundedByTheServersMaximum_AndItsRecordKeepsTheLast64KiB()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        // 3 MiB of output, no limit asked: the server keeps its 1 MiB maximum.
        var reply = await session.SendPromptAsync("terminal head -c 3145728 /dev/zero | tr '\\0' 'z'; echo END");

        reply.Text.Should().StartWith("exit 0 truncated\n").And.EndWith("zzzEND\n");
        reply.Text.Length.Should().Be("exit 0 truncated\n".Length + 1024 * 1024);
        var events = await session.GetEventsAsync();
        var recorded = Response(events, "terminal/output").GetProperty("result");
        recorded.GetProperty("output").GetString()!.Length.Should().Be(64 * 1024);
        recorded.GetProperty("outputTruncated").GetBoolean().Should().BeTrue();
        recorded.GetProperty("outputBytes").GetInt64().Should().Be(1024 * 1024);
        var exit = Json(events.Single(e => e.Method == AgentOsEventMethods.TerminalExit).Params);
        exit.GetProperty("bytesWritten").GetInt64().Should().Be(3 * 1024 * 1024 + 4);
        exit.GetProperty("output").GetString().Should().EndWith("END\n");
    }

    [Fact]
    public async Task Kill_EndsTheCommand_TheTerminalStays_AndReleaseForgetsIt()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var id = await StartAsync(session, "echo started; exec sleep 3074");
        await Poll.UntilAsync(() => AgentProcesses.Sleepers("3074").Count == 1, "the command runs");
        await Poll.UntilAsync(async () => (await session.SendPromptAsync($"terminal-output {id}")).Text == """{"output":"started\n","truncated":false}""", "its output so far, no exit status yet");

        (await session.SendPromptAsync($"terminal-kill {id}")).Text.Should().Be("{}");

        AgentProcesses.Sleepers("3074").Should().BeEmpty("kill answers once the command is gone");
        (await session.SendPromptAsync($"terminal-wait {id}")).Text.Should().Be("""{"signal":"SIGKILL"}""");
        (await session.SendPromptAsync($"terminal-output {id}")).Text.Should().Be("""{"output":"started\n","truncated":false,"exitStatus":{"signal":"SIGKILL"}}""");
        (await session.SendPromptAsync($"terminal-release {id}")).Text.Should().Be("{}");
        (await session.SendPromptAsync($"terminal-output {id}")).Text.Should().StartWith("error -32602").And.Contain("no terminal");
        var exit = Json((await session.GetEventsAsync()).Single(e => e.Method == AgentOsEventMethods.TerminalExit).Params);
        exit.GetProperty("reason").GetString().Should().Be("killed");
        exit.GetProperty("signal").GetString().Should().Be("SIGKILL");
    }

    [Theory]
    [InlineData("close")]
    [InlineData("sleep")]
    [InlineData("destroy")]
    [InlineData("crash")]
    public async Task EveryTerminal_Ends_WhenItsSessionStops_OrItsAgentExits(string how)
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var tag = how switch { "close" => "3075", "sleep" => "3076", "destroy" => "3077", _ => "3078" };
        await StartAsync(session, $"exec sleep {tag}");
        await StartAsync(session, $"sleep {tag} & sleep {tag}; wait");
        await Poll.UntilAsync(() => AgentProcesses.Sleepers(tag).Count == 3, "both terminals run");

        switch (how)
        {
            case "close":
                await session.CloseAsync();
                break;
            case "sleep":
                await vm.SleepAsync();
                break;
            case "destroy":
                await session.DestroyAsync();
                break;
            default:
                await FluentActions.Awaiting(() => session.SendPromptAsync("crash 7")).Should().ThrowAsync<AgentOsException>();
                break;
        }

        await Poll.UntilAsync(() => AgentProcesses.Sleepers(tag).Count == 0, $"no process of a terminal outlives its session ({how})");
        if (how != "destroy")
        {
            var events = await session.GetEventsAsync();
            var exits = events.Where(e => e.Method == AgentOsEventMethods.TerminalExit).Select(e => Json(e.Params)).ToList();
            exits.Should().HaveCount(2).And.OnlyContain(e => e.GetProperty("reason").GetString() == (how == "crash" ? "agent_exited" : "session_stopped"));
            events.Last(e => e.Method == AgentOsEventMethods.TerminalExit).Seq.Should().BeLessThan(events.Last(e => e.Method == AgentOsEventMethods.AgentExit).Seq,
                "each terminal's end is recorded before its agent's");
        }
    }

    [Fact]
    public async Task ATerminalsProcesses_AreInACgroupInsideTheAgents_AndCountAgainstItsLimits()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default, new CreateSessionOptions { Limits = new ResourceLimits { Processes = 100 } });
        await StartAsync(session, "exec sleep 3079");
        await Poll.UntilAsync(() => AgentProcesses.Sleepers("3079").Count == 1, "the command runs");

        var cgroups = File.ReadAllLines($"/proc/{AgentProcesses.Sleepers("3079")[0]}/cgroup");

        var pids = cgroups.Single(l => l.Split(':')[1] == "pids").Split(':', 3)[2];
        pids.Should().MatchRegex($"/agentos/[0-9a-f]+/{session.Id}-[0-9]+/term_[0-9a-f]+_1$", "the terminal's own cgroup, inside its agent's");
        HostUid(AgentProcesses.Sleepers("3079")[0]).Should().Be(HostUid(session.Info!.ProcessId), "the terminal runs as its agent does on the host (the VM's own uid when the server is root)");
        if (Environment.UserName == "root")
        {
            HostUid(AgentProcesses.Sleepers("3079")[0]).Should().NotBe("0");
        }

        var agentUsage = (await vm.GetInfoAsync()).Agents.Single(a => a.SessionId == session.Id);
        agentUsage.Processes.Should().BeGreaterThan(1, "the agent's count includes its terminal");
        agentUsage.Limits!.Processes.Should().Be(100);
        await session.CloseAsync();
        await Poll.UntilAsync(() => AgentProcesses.Sleepers("3079").Count == 0, "it ends with the session");
    }

    [Fact]
    public async Task AtTheCapOfTerminals_TheOldestExitedOneIsReleased_AndWhenAllRunANewOneIsRefused()
    {
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__MaxTerminalsPerSession"] = "2";
        await using var server = await ServerProcess.StartAsync(env);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var session = await client.Vm("terminal-cap").CreateSessionAsync("mine");
        var first = await StartAsync(session, "exec sleep 3081");
        var second = await StartAsync(session, "exec sleep 3081");

        var refused = await session.SendPromptAsync("terminal-start exec sleep 3081");
        (await session.SendPromptAsync($"terminal-kill {first}")).Text.Should().Be("{}");
        var third = await StartAsync(session, "exec sleep 3081");

        refused.Text.Should().StartWith("terminal failed: -32602").And.Contain("AgentOs:MaxTerminalsPerSession");
        (await session.SendPromptAsync($"terminal-output {first}")).Text.Should().StartWith("error -32602", "the exited one was released to make room");
        (await session.SendPromptAsync($"terminal-output {second}")).Text.Should().Be("""{"output":"","truncated":false}""");
        await Poll.UntilAsync(() => AgentProcesses.Sleepers("3081").Count == 2, "the second and third terminals run");
        (await session.SendPromptAsync($"terminal-release {third}")).Text.Should().Be("{}");
        await session.CloseAsync();
        AgentProcesses.Sleepers("3081").Should().BeEmpty("release and close answer once the commands are gone");
    }

    [Theory]
    [InlineData("bubblewrap")]
    [InlineData("none")]
    public async Task ATerminalsProcesses_DoNotOutliveAKilledServer(string sandbox)
    {
        using var data = new TempDirectory("agentos-terminal-kill");
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__Sandbox"] = sandbox;
        var tag = sandbox == "none" ? "3082" : "3083";
        await using (var server = await ServerProcess.StartAsync(env, data.Path))
        {
            await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
            var session = await client.Vm("terminal-kill").CreateSessionAsync("mine");
            await StartAsync(session, $"setsid sleep {tag} </dev/null >/dev/null 2>&1 & exec sleep {tag}");
            await Poll.UntilAsync(() => AgentProcesses.Sleepers(tag).Count == 2, "the terminal's command and its daemon run");
            await server.KillAsync(); // SIGKILL: nothing of the server runs to clean up
        }

        // Sandboxed, the terminal's bubblewrap dies with the server; as host processes, the next server on the data directory
        // kills what is left in the killed one's cgroups (a terminal's inside its agent's) before it serves anything.
        if (sandbox == "none")
        {
            await using var restarted = await ServerProcess.StartAsync(env, data.Path);
            restarted.Output.Should().Contain("by a server that did not stop cleanly");
        }

        await Poll.UntilAsync(() => AgentProcesses.Sleepers(tag).Count == 0, "no process of a terminal outlives a killed server");
    }

    private static async Task<string> StartAsync(SessionHandle session, string command)
    {
        var reply = (await session.SendPromptAsync($"terminal-start {command}")).Text;
        reply.Should().StartWith("started term_");
        return reply["started ".Length..];
    }

    private static JsonElement Response(IReadOnlyList<SessionEvent> events, string method) =>
        events.Where(e => e.Method == AgentOsEventMethods.ClientResponse).Select(e => Json(e.Params)).First(r => r.GetProperty("method").GetString() == method);

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static string HostUid(int pid) => File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t')[1];
}
