using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>Issue 14, the counts: one more live session than a bound allows is refused with QuotaExceeded naming the option, and leaves nothing behind.</summary>
public sealed class QuotaTests
{
    [Fact]
    public async Task OneMoreThanMaxSessionsPerVm_MaxLiveAgents_OrMaxActiveVms_IsRefused_NamingTheOption()
    {
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__MaxSessionsPerVm"] = "2";
        env["AgentOs__MaxLiveAgents"] = "3";
        env["AgentOs__MaxActiveVms"] = "2";
        await using var server = await ServerProcess.StartAsync(env);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var a = client.Vm("quota-a");
        var b = client.Vm("quota-b");
        var c = client.Vm("quota-c");

        var a1 = await a.CreateSessionAsync("mine");
        var a2 = await a.CreateSessionAsync("mine");
        (await Refused(() => a.CreateSessionAsync("mine"))).Should().Contain("AgentOs:MaxSessionsPerVm");
        (await a.ListPersistedSessionsAsync()).Should().HaveCount(2, "a refused session leaves no row");
        await b.CreateSessionAsync("mine");
        (await Refused(() => b.CreateSessionAsync("mine"))).Should().Contain("AgentOs:MaxLiveAgents");
        await a.CloseSessionAsync(a2.SessionId);
        (await Refused(() => c.CreateSessionAsync("mine"))).Should().Contain("AgentOs:MaxActiveVms", "a and b still have live agents");

        await a.CloseSessionAsync(a1.SessionId);
        var c1 = await c.CreateSessionAsync("mine");
        (await c1.SendPromptAsync("ping")).Text.Should().Be("echo: ping", "a VM that went quiet makes room");
        await b.CreateSessionAsync("mine");
    }

    private static async Task<string> Refused(Func<Task> create) =>
        (await create.Should().ThrowAsync<AgentOsException>().Where(e => e.Code == AgentOsErrorCode.QuotaExceeded)).Which.Message;
}

/// <summary>Issue 14: reading a VM id nobody used must not cost a folder or open files for the idle timeout.</summary>
public sealed class UnusedVmTests
{
    [Fact]
    public async Task AThousandReadsOfUnusedVmIds_LeaveNoFolders_AndNoOpenFiles()
    {
        await using var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"));
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var kept = client.Vm("kept");
        await kept.CreateSessionAsync("mine");
        var vms = Path.Combine(server.DataDirectory, "vms");
        await ReadAsync(client.Vm("unused-warm-up")); // the code paths of a read, loaded once
        await Poll.UntilAsync(() => !Directory.Exists(Path.Combine(vms, "unused-warm-up")), "the warm-up VM's folder is gone");
        var baseline = OpenFiles(server.Pid).Count;

        for (var batch = 0; batch < 20; batch++)
        {
            await Task.WhenAll(Enumerable.Range(0, 50).Select(i => ReadAsync(client.Vm($"unused-{batch}-{i}"))));
        }

        await Poll.UntilAsync(() => Directory.GetDirectories(vms).All(d => Path.GetFileName(d) == "kept"), "the unused VMs' folders are gone");
        await Poll.UntilAsync(() => OpenFiles(server.Pid).Count <= baseline + 10, "no descriptor of an unused VM stays open");
        OpenFiles(server.Pid).Should().NotContain(f => f.Contains("/vms/unused-", StringComparison.Ordinal));
        Directory.Exists(Path.Combine(vms, "kept")).Should().BeTrue("a VM with a session is kept");
    }

    private static async Task ReadAsync(VmHandle vm)
    {
        (await vm.ListPersistedSessionsAsync()).Should().BeEmpty();
        await vm.Invoking(v => v.GetEventsAsync("nope")).Should().ThrowAsync<AgentOsException>();
    }

    /// <summary>What the server's open descriptors point at.</summary>
    private static List<string> OpenFiles(int pid) => Directory.GetFiles($"/proc/{pid}/fd").Select(f =>
    {
        try
        {
            return new FileInfo(f).LinkTarget ?? f;
        }
        catch (IOException)
        {
            return f; // closed meanwhile
        }
    }).ToList();
}

/// <summary>Issue 14: DestroyVm deletes a VM with all its data.</summary>
public sealed class DestroyVmTests
{
    [Fact]
    public async Task DestroyVm_StopsItsAgents_AndLeavesNoFolder_AndTheIdStartsEmpty()
    {
        await using var server = await ServerProcess.StartAsync(TestAgents.AsEnvironment("mine"));
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("doomed");
        var first = await vm.CreateSessionAsync("mine");
        var second = await vm.CreateSessionAsync("mine");
        await first.SendPromptAsync("sh echo kept > /home/agentos/file.txt");
        var folder = Path.Combine(server.DataDirectory, "vms", "doomed");
        File.Exists(Path.Combine(folder, "home", "file.txt")).Should().BeTrue();

        var busy = second.SendPromptAsync("sleep 60000");
        await Poll.UntilAsync(() => vm.GetSequencedEventsAsync(second.SessionId, 0, 100).GetAwaiter().GetResult().Any(e => e.GetUpdateKind() == "agent_message_chunk"), "the turn runs");
        (await vm.Invoking(v => v.DestroyAsync()).Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.SessionBusy, "not while a prompt runs");
        await vm.CancelPromptAsync(second.SessionId);
        await busy;

        await vm.DestroyAsync();

        await Poll.UntilAsync(() => !Directory.Exists(folder), "the VM's folder is gone");
        await Poll.UntilAsync(() => !Directory.Exists($"/proc/{first.Info!.ProcessId}") && !Directory.Exists($"/proc/{second.Info!.ProcessId}"), "its agents are stopped");
        (await vm.ListPersistedSessionsAsync()).Should().BeEmpty("the id starts an empty VM");
        var fresh = await vm.CreateSessionAsync("mine");
        (await fresh.SendPromptAsync("sh cat /home/agentos/file.txt")).Text.Should().Contain("No such file", "nothing of the old home is left");
    }
}
