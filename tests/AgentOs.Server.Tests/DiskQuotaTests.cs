using System.Globalization;
using System.Text.Json;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 14, disk, against a real server process: a VM's home is held to <c>AgentOs:VmDiskQuota</c>. Before, an agent
/// filled its home without bound (320 MB written into a 64 MiB quota, the turn ended well).
/// </summary>
public sealed class DiskQuotaTests
{
    private const long MiB = 1024 * 1024;
    private const long Quota = 64 * MiB;

    [Fact]
    public async Task AnAgentFillingItsHomePastTheQuota_IsStopped_OnRecord_WhileAnotherVmStreamsEverything_AndItsSessionCanMakeRoom()
    {
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__VmDiskQuota"] = Quota.ToString(CultureInfo.InvariantCulture);
        await using var server = await ServerProcess.StartAsync(env);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var filler = await client.Vm("filler").CreateSessionAsync("mine");
        var streamer = await client.Vm("streamer").CreateSessionAsync("mine");

        var streaming = streamer.SendPromptAsync("chunks 3000");
        var failure = (await filler.Invoking(s => s.SendPromptAsync("sh for i in $(seq 1 40); do head -c 8000000 /dev/zero > /home/agentos/f$i || exit 1; done; echo filled"))
            .Should().ThrowAsync<AgentOsException>()).Which;
        await streaming;

        failure.Code.Should().Be(AgentOsErrorCode.ResourceLimit, failure.Message);
        failure.Message.Should().Contain("AgentOs:VmDiskQuota").And.Contain("64 MiB");
        var events = await client.Vm("filler").GetEventsAsync(filler.SessionId);
        var limit = JsonDocument.Parse(events.Single(e => e.Method == AgentOsEventMethods.Limit).Params).RootElement;
        limit.GetProperty("limit").GetString().Should().Be("disk");
        limit.GetProperty("max").GetInt64().Should().Be(Quota);
        limit.GetProperty("count").GetInt64().Should().BeGreaterThan(Quota);
        var exit = JsonDocument.Parse(events.Last(e => e.Method == AgentOsEventMethods.AgentExit).Params).RootElement;
        exit.GetProperty("reason").GetString().Should().Be("disk_quota");
        (await client.Vm("streamer").GetEventsAsync(streamer.SessionId)).Count(e => e.GetUpdateKind() == "agent_message_chunk")
            .Should().Be(3000, "the other VM loses nothing");

        // Over the quota, a resumed agent may still delete files; then the VM works as before.
        (await filler.SendPromptAsync("sh rm -f /home/agentos/f*; echo freed")).Text.Should().Contain("freed");
        (await filler.SendPromptAsync("sh head -c 1000000 /dev/zero > /home/agentos/small && echo written")).Text.Should().Contain("written");
        var info = await client.Vm("filler").GetInfoAsync();
        info.DiskQuotaBytes.Should().Be(Quota);
        info.HomeBytes.Should().BeLessThan(Quota);
    }

    [Fact]
    public async Task NoFileGrowsPastTheQuota_TheKernelRefusesIt_AndFsWritesOverTheQuotaAreRefused()
    {
        const long Small = 20 * MiB;
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__VmDiskQuota"] = Small.ToString(CultureInfo.InvariantCulture);
        await using var server = await ServerProcess.StartAsync(env);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var session = await client.Vm("one-file").CreateSessionAsync("mine");

        (await session.SendPromptAsync($"write-big /home/agentos/big.txt {12 * MiB}")).Text.Should().Be("wrote /home/agentos/big.txt");
        (await session.SendPromptAsync($"write-big /home/agentos/more.txt {10 * MiB}")).Text.Should().StartWith("write failed").And.Contain("AgentOs:VmDiskQuota");
        File.Exists(Path.Combine(server.DataDirectory, "vms", "one-file", "home", "more.txt")).Should().BeFalse("the server wrote nothing");

        var big = client.Vm("one-big-file");
        var writer = await big.CreateSessionAsync("mine");
        await Record.ExceptionAsync(() => writer.SendPromptAsync("sh head -c 100000000 /dev/zero > /home/agentos/huge; echo status $?"));
        new FileInfo(Path.Combine(server.DataDirectory, "vms", "one-big-file", "home", "huge")).Length.Should().Be(Small, "RLIMIT_FSIZE stops the file at the quota");
    }

    [Fact]
    public async Task WithoutAWritableCgroupHierarchy_TheServerSaysWhatIsNotEnforced_AndLimitsEachProcessesMemory()
    {
        using var noCgroups = new TempDirectory("agentos-no-cgroups");
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__CgroupRoot"] = noCgroups.Path;
        await using var server = await ServerProcess.StartAsync(env);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("rlimits");
        var session = await vm.CreateSessionAsync("mine", new CreateSessionOptions { Limits = new ResourceLimits { MemoryBytes = 512 * MiB } });

        server.Output.Should().Contain("AGENT LIMITS ARE NOT FULLY ENFORCED").And.Contain(noCgroups.Path).And.Contain("RLIMIT_DATA");
        var pid = (await vm.GetInfoAsync()).Agents.Single().ProcessId;
        var limits = await File.ReadAllLinesAsync($"/proc/{pid}/limits");
        limits.Single(l => l.StartsWith("Max data size", StringComparison.Ordinal)).Should().Contain((512 * MiB).ToString(CultureInfo.InvariantCulture));
        limits.Single(l => l.StartsWith("Max core file size", StringComparison.Ordinal)).Should().MatchRegex(@"\s0\s+0\s");
        // A process of the agent asking for more than the limit is refused its memory (dd's 1 GiB buffer); less is fine.
        (await session.SendPromptAsync("sh dd if=/dev/zero of=/dev/null bs=1G count=1 2>&1; echo status $?")).Text.Should().Contain("memory exhausted").And.Contain("status 1");
        (await session.SendPromptAsync("sh dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo status $?")).Text.Should().Contain("status 0");
    }
}
