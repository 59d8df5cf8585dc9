using System.Text.Json;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 14, against real server processes: a cgroup per agent limits its memory and processes, and every process
/// it starts dies with it. Before, nothing bounded an agent, and a daemon it double-forked outlived its session.
/// </summary>
public sealed class LimitsTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public async Task AnAgentPastItsMemoryLimit_IsKilled_TheTurnFailsAsResourceLimit_AndTheSessionResumes()
    {
        await using var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"));
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("memory-hog");
        var hog = await vm.CreateSessionAsync("mine", new CreateSessionOptions { Limits = new ResourceLimits { MemoryBytes = 256 * MiB } });
        var neighbour = await vm.CreateSessionAsync("mine");

        var failure = (await hog.Invoking(s => s.SendPromptAsync("alloc 1024")).Should().ThrowAsync<AgentOsException>()).Which;

        failure.Code.Should().Be(AgentOsErrorCode.ResourceLimit, failure.Message);
        failure.Message.Should().Contain("256 MiB").And.Contain("Limits.MemoryBytes");
        var exit = JsonDocument.Parse((await vm.GetEventsAsync(hog.SessionId)).Last(e => e.Method == AgentOsEventMethods.AgentExit).Params).RootElement;
        exit.GetProperty("reason").GetString().Should().Be("memory_limit");
        exit.GetProperty("limit").GetInt64().Should().Be(256 * MiB);
        (await neighbour.SendPromptAsync("ping")).Text.Should().Be("echo: ping", "the VM's other session is untouched");
        (await hog.SendPromptAsync("alloc 16")).Text.Should().Be("allocated 16 MiB", "the session resumes, with its limit");
    }

    [Fact]
    public async Task AnAgentTypesOwnLimit_Applies_UnlessTheSessionAsksForAnother()
    {
        var env = TestAgents.AsEnvironment("small");
        env["AgentOs__Agents__small__Limits__MemoryBytes"] = (200 * MiB).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var server = await ServerProcess.StartAsync(env);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("typed-limits");
        var typed = await vm.CreateSessionAsync("small");
        var roomier = await vm.CreateSessionAsync("small", new CreateSessionOptions { Limits = new ResourceLimits { MemoryBytes = 1024 * MiB } });

        var failure = (await typed.Invoking(s => s.SendPromptAsync("alloc 400")).Should().ThrowAsync<AgentOsException>()).Which;
        (await roomier.SendPromptAsync("alloc 400")).Text.Should().Be("allocated 400 MiB", "the session's own limit wins");

        failure.Code.Should().Be(AgentOsErrorCode.ResourceLimit);
        failure.Message.Should().Contain("200 MiB");
    }

    [Fact]
    public async Task ACpuQuota_IsWrittenToTheAgentsCgroup_AndTheKernelThrottlesABurner()
    {
        await using var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"));
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var session = await client.Vm("cpu-quota").CreateSessionAsync("mine", new CreateSessionOptions { Limits = new ResourceLimits { CpuCores = 0.5 } });
        var v2 = Directory.Exists(Path.Combine("/sys/fs/cgroup/unified/agentos", AgentCgroupLeftovers.Instance(server.DataDirectory)))
            || Directory.Exists(Path.Combine("/sys/fs/cgroup/agentos", AgentCgroupLeftovers.Instance(server.DataDirectory)));
        var parent = v2 ? (Directory.Exists("/sys/fs/cgroup/unified/agentos") ? "/sys/fs/cgroup/unified/agentos" : "/sys/fs/cgroup/agentos") : "/sys/fs/cgroup/cpu/agentos";
        var cgroup = Directory.GetDirectories(Path.Combine(parent, AgentCgroupLeftovers.Instance(server.DataDirectory)), session.SessionId + "-*").Single();

        (await File.ReadAllTextAsync(Path.Combine(cgroup, v2 ? "cpu.max" : "cpu.cfs_quota_us"))).Trim().Should().StartWith("50000", "half of a 100 ms period");
        (await session.SendPromptAsync("sh timeout 1 sh -c 'while :; do :; done'; echo burned")).Text.Should().Contain("burned");

        var throttled = File.ReadLines(Path.Combine(cgroup, "cpu.stat")).Single(l => l.StartsWith("nr_throttled ", StringComparison.Ordinal));
        long.Parse(throttled.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture).Should().BeGreaterThan(0, "the kernel held the burner to its quota");
    }

    [Fact]
    public async Task GetVmInfo_ReportsEachLiveAgentsUse_AndTheHomesSize()
    {
        await using var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"));
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("visible");
        var session = await vm.CreateSessionAsync("mine", new CreateSessionOptions { Limits = new ResourceLimits { Processes = 100 } });
        await session.SendPromptAsync("sh head -c 3000000 /dev/zero > /home/agentos/three-megabytes; echo written");

        var info = await vm.GetInfoAsync();

        info.HomeBytes.Should().BeGreaterThanOrEqualTo(3_000_000);
        var agent = info.Agents.Should().ContainSingle().Which;
        agent.SessionId.Should().Be(session.SessionId);
        agent.MemoryBytes.Should().BeGreaterThan(10 * MiB, "the agent's memory, from its cgroup");
        agent.Processes.Should().BeGreaterThan(1, "the agent's threads count");
        agent.CpuTime.Should().BeGreaterThan(TimeSpan.Zero);
        agent.Limits!.Processes.Should().Be(100);
        agent.Limits.MemoryBytes.Should().Be(2048 * MiB, "the server's default");
    }

    [Fact]
    public async Task AForkBomb_StopsAtTheProcessLimit_IsOnRecord_AndDiesWithTheSession()
    {
        await using var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"));
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("fork-bomb");
        var session = await vm.CreateSessionAsync("mine", new CreateSessionOptions { Limits = new ResourceLimits { Processes = 64 } });

        // The agent's own threads count too: when the bomb has taken the rest, the agent may fail its turn (typed).
        var turn = await Record.ExceptionAsync(() => session.SendPromptAsync("sh for i in $(seq 1 300); do sleep 3071 >/dev/null 2>&1 & done 2>/dev/null; echo spawned"));

        (turn is null or AgentOsException).Should().BeTrue($"the turn ends, or fails with a typed error: {turn}");
        AgentProcesses.Sleepers("3071").Count.Should().BeInRange(1, 64, "the processes stop at pids.max");
        var limit = JsonDocument.Parse((await vm.GetEventsAsync(session.SessionId)).Single(e => e.Method == AgentOsEventMethods.Limit).Params).RootElement;
        limit.GetProperty("limit").GetString().Should().Be("processes");
        limit.GetProperty("max").GetInt32().Should().Be(64);
        limit.GetProperty("count").GetInt64().Should().BeGreaterThan(0);
        (await vm.ListSessionsAsync()).Should().Contain(session.SessionId, "the server answers");

        await vm.CloseSessionAsync(session.SessionId);
        await Poll.UntilAsync(() => AgentProcesses.Sleepers("3071").Count == 0, "every process of the agent dies with its session");
    }

    [Theory]
    [InlineData("bubblewrap")]
    [InlineData("none")]
    public async Task ADoubleForkedDaemon_DiesWhenTheSessionCloses_AndWhenTheServerIsKilled(string sandbox)
    {
        using var data = new TempDirectory("agentos-daemon");
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__Sandbox"] = sandbox;
        var tag = sandbox == "none" ? "3072" : "3073";
        const string Daemonize = "sh setsid sh -c 'sleep {0} &' </dev/null >/dev/null 2>&1 & echo started";
        await using (var server = await ServerProcess.StartAsync(env, data.Path))
        {
            await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
            var vm = client.Vm("daemon");
            var session = await vm.CreateSessionAsync("mine");
            await session.SendPromptAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, Daemonize, tag));
            await Poll.UntilAsync(() => AgentProcesses.Sleepers(tag).Count == 1, "the daemon runs");

            await vm.CloseSessionAsync(session.SessionId);
            await Poll.UntilAsync(() => AgentProcesses.Sleepers(tag).Count == 0, "a setsid, double-forked daemon dies with its session");

            var next = await vm.CreateSessionAsync("mine");
            await next.SendPromptAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, Daemonize, tag));
            await Poll.UntilAsync(() => AgentProcesses.Sleepers(tag).Count == 1, "the second daemon runs");
            await server.KillAsync(); // SIGKILL: nothing of the server runs to clean up
        }

        // Sandboxed, the daemon dies with bubblewrap's PID namespace at once; as host processes, the next server on the
        // data directory kills what is left in the killed one's cgroups before it serves anything.
        if (sandbox == "none")
        {
            await using var restarted = await ServerProcess.StartAsync(env, data.Path);
            restarted.Output.Should().Contain("by a server that did not stop cleanly");
        }

        await Poll.UntilAsync(() => AgentProcesses.Sleepers(tag).Count == 0, "the daemon does not outlive a killed server");
    }
}
