using System.Diagnostics;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 13, "the VM's state survives its agents", against a real server whose data directory is a 64 MiB tmpfs
/// mounted for the test: one VM's agent fills the disk from its home. Before, every VM's commits failed with
/// SQLITE_FULL and their batches were dropped (a whole 3,000-chunk turn vanished, and the next turn went on at the next
/// seq). Now a reserve set aside at start is given back at the first SQLITE_FULL, so the other VM's running turn keeps
/// every event; new turns are refused (StorageUnavailable, naming AgentOs:MinFreeDiskBytes) until space is back.
/// </summary>
public sealed class DiskFullTests
{
    private const long MinFree = 16L * 1024 * 1024;

    [Fact]
    public async Task AnAgentFillingTheDisk_CostsAnotherVmsRunningTurnNothing_AndNewTurnsWaitForSpace()
    {
        using var root = new TempDirectory("agentos-diskfull");
        var data = Path.Combine(root.Path, "data");
        Directory.CreateDirectory(data);
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "agentos-test-disk", data);
        try
        {
            var env = TestAgents.AsEnvironment("mine");
            env["AgentOs__MinFreeDiskBytes"] = MinFree.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await using var server = await ServerProcess.StartAsync(env, root.Path);
            await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
            var reserve = new FileInfo(Path.Combine(data, "vms", "reserve"));
            reserve.Exists.Should().BeTrue("the reserve is set aside at start");
            reserve.Length.Should().Be(MinFree / 4);
            (await OutputOfAsync("stat", "-c", "%b*%B", reserve.FullName)).Split('*').Select(long.Parse).Aggregate((a, b) => a * b)
                .Should().BeGreaterThanOrEqualTo(MinFree / 4, "its blocks are allocated (fallocate), not a sparse promise");

            var victimVm = client.Vm("victim");
            var fillerVm = client.Vm("filler");
            using var live = await EventCollector.SubscribeAsync(victimVm);
            var victim = await victimVm.CreateSessionAsync("mine");
            var filler = await fillerVm.CreateSessionAsync("mine");

            var turn = victim.SendPromptAsync("chunks-gate 500 /home/agentos/gate");
            await live.WaitForAsync(e => e.SessionId == victim.SessionId && e.GetText() == "c500 ", "the first 500 chunks are stored");

            var fill = await filler.SendPromptAsync("sh head -c 200000000 /dev/zero > /home/agentos/fill; echo wrote $(stat -c %s /home/agentos/fill)");
            fill.Text.Should().Contain("No space left on device", "the filler's own write is what fails");

            File.WriteAllText(Path.Combine(data, "vms", "victim", "home", "gate"), ""); // an inode, no blocks: room for it
            var result = await turn;

            result.StopReason.Should().Be("end_turn");
            var events = await victimVm.GetEventsAsync(victim.SessionId);
            events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), "seq stays gapless");
            events.Count(e => e.GetUpdateKind() == "agent_message_chunk").Should().Be(1000, "no event of the running turn is lost");
            events.Should().NotContain(e => e.Method == AgentOsEventMethods.EventsLost);
            await live.WaitForSeqAsync(victim.SessionId, result.LastSeq);
            live.For(victim.SessionId).Should().Equal(events, "what a client saw is what is stored");
            server.Output.Should().Contain("released the");

            var refused = (await victim.Invoking(s => s.SendPromptAsync("chunks 3")).Should().ThrowAsync<AgentOsException>()).Which;
            refused.Code.Should().Be(AgentOsErrorCode.StorageUnavailable);
            refused.Message.Should().Contain("AgentOs:MinFreeDiskBytes");

            File.Delete(Path.Combine(data, "vms", "filler", "home", "fill"));
            (await victim.SendPromptAsync("chunks 3")).StopReason.Should().Be("end_turn");
            reserve.Refresh();
            reserve.Exists.Should().BeTrue("the reserve is set aside again once there is room");
            var fillerEvents = await fillerVm.GetEventsAsync(filler.SessionId);
            fillerEvents.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, fillerEvents.Count).Select(i => (long)i));
        }
        finally
        {
            await RunAsync("umount", "-l", data);
        }
    }

    [Fact]
    public async Task DatabaseDirectory_KeepsTheTranscriptsApartFromTheHomes_WithTheReserveBesideThem()
    {
        using var root = new TempDirectory("agentos-dbdir");
        var databases = Path.Combine(root.Path, "databases");
        var env = TestAgents.AsEnvironment("mine");
        env["AgentOs__DatabaseDirectory"] = databases;
        await using var server = await ServerProcess.StartAsync(env, root.Path);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("apart");
        var session = await vm.CreateSessionAsync("mine");

        (await session.SendPromptAsync("chunks 3")).StopReason.Should().Be("end_turn");
        File.Exists(Path.Combine(databases, "apart", "vm.db")).Should().BeTrue();
        File.Exists(Path.Combine(server.DataDirectory, "vms", "apart", "vm.db")).Should().BeFalse("the home's folder holds no database");
        Directory.Exists(Path.Combine(server.DataDirectory, "vms", "apart", "home")).Should().BeTrue();
        File.Exists(Path.Combine(databases, "reserve")).Should().BeTrue("the reserve is on the databases' filesystem");
    }

    private static async Task RunAsync(string file, params string[] args) => await OutputOfAsync(file, args);

    private static async Task<string> OutputOfAsync(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        process.ExitCode.Should().Be(0, $"{file} {string.Join(' ', args)}: {error} (the test needs root to mount a tmpfs)");
        return (await output).Trim();
    }
}
