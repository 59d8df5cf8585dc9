using System.Diagnostics;
using System.Runtime.Versioning;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// Attacks on the host through what a session may set or do (issue 12, items 2, 4 and 5): a library the
/// agent built, named in a session's Env, must never be loaded on the host; the sandbox must not open
/// nested user namespaces; the data directory must not be readable by other local users.
/// </summary>
[Collection(ClusterCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed class HostPrivilegeAttackTests(ClusterFixture fixture)
{
    [Fact]
    public async Task LdPreloadInSessionEnv_OfALibraryTheAgentBuilt_IsRefused_AndNothingRunsOnTheHost()
    {
        var gcc = HostTool("gcc");
        var vm = fixture.NewVm();
        await vm.CreateSessionAsync(TestAgents.Default); // the VM and its home exist
        // What an agent can do in its own home: build a library whose constructor runs wherever it is loaded.
        // The marker is on the host's /tmp, which the sandboxed agent itself cannot reach (its /tmp is private).
        var marker = Path.Combine(Path.GetTempPath(), "agentos-preload-" + Guid.NewGuid().ToString("N"));
        var library = Path.Combine(fixture.VmHome(vm.Id), "evil.so");
        var source = Path.Combine(fixture.VmHome(vm.Id), "evil.c");
        await File.WriteAllTextAsync(source, $$"""
            #include <fcntl.h>
            #include <unistd.h>
            __attribute__((constructor)) static void run(void) { int fd = open("{{marker}}", O_CREAT | O_WRONLY, 0600); if (fd >= 0) close(fd); }
            """);
        Run(gcc, "-shared", "-fPIC", "-o", library, source);

        try
        {
            var refusals = new List<AgentOsException>();
            foreach (var key in new[] { "LD_PRELOAD", "LD_AUDIT", "LD_LIBRARY_PATH", "GCONV_PATH", "GLIBC_TUNABLES" })
            {
                try
                {
                    var session = await vm.CreateSessionAsync(TestAgents.Default, new CreateSessionOptions { Env = new Dictionary<string, string> { [key] = key == "LD_LIBRARY_PATH" || key == "GCONV_PATH" ? fixture.VmHome(vm.Id) : library } });
                    await session.CloseAsync();
                }
                catch (AgentOsException ex)
                {
                    refusals.Add(ex);
                }
            }

            File.Exists(marker).Should().BeFalse("a library the agent built must never be loaded by a process on the host (it ran as the server's user)");
            refusals.Should().HaveCount(5).And.OnlyContain(e => e.Code == AgentOsErrorCode.InvalidArgument, "a session may not set a variable of the dynamic loader or the C library");
            refusals.Select(e => e.Message).Should().Contain(m => m.Contains("LD_PRELOAD"), "the error names the key");
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task TheSessionsEnv_ReachesTheAgentInside_ButNeitherTheLaunchersEnvironmentNorItsCommandLine()
    {
        var vm = fixture.NewVm();
        var secret = "sk-" + Guid.NewGuid().ToString("N");
        var session = await vm.CreateSessionAsync(TestAgents.Default, new CreateSessionOptions { Env = new Dictionary<string, string> { ["MY_API_KEY"] = secret } });

        (await session.SendPromptAsync("sh echo $MY_API_KEY")).Text.Should().Be($"exit 0\n{secret}", "the agent gets its session's Env");
        var launcher = session.Info!.ProcessId; // bwrap, on the host
        var environment = await File.ReadAllTextAsync($"/proc/{launcher}/environ");
        var commandLine = await File.ReadAllTextAsync($"/proc/{launcher}/cmdline");
        Path.GetFileName(commandLine.Split('\0')[0]).Should().Be("bwrap");
        environment.Should().NotContain(secret).And.NotContain("MY_API_KEY", "the launcher on the host runs with a fixed environment of its own");
        commandLine.Should().NotContain(secret, "nothing of the Env shows in ps");
        Directory.EnumerateFiles(Path.Combine(fixture.DataDirectory, "vms", vm.Id), "*", SearchOption.AllDirectories)
            .Where(f => !Path.GetFileName(f).StartsWith("vm.db", StringComparison.Ordinal))
            .Should().NotContain(f => File.ReadAllText(f).Contains(secret), "the arguments file that carried the Env is gone once bwrap has it");
    }

    [Theory]
    [InlineData("A=B")]
    [InlineData("")]
    [InlineData("1ABC")]
    [InlineData("KEY\0X")]
    [InlineData("WITH SPACE")]
    public async Task SessionEnv_WithAKeyThatIsNoVariableName_IsRefused(string key)
    {
        var vm = fixture.NewVm();
        var create = () => vm.CreateSessionAsync(TestAgents.Default, new CreateSessionOptions { Env = new Dictionary<string, string> { [key] = "x" } });
        (await create.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.InvalidArgument);
        (await vm.ListPersistedSessionsAsync()).Should().BeEmpty("nothing is created for a refused session");
    }

    [Fact]
    public async Task SessionEnv_WithANulInAValue_IsRefused()
    {
        var vm = fixture.NewVm();
        var create = () => vm.CreateSessionAsync(TestAgents.Default, new CreateSessionOptions { Env = new Dictionary<string, string> { ["TOKEN"] = "a\0b" } });
        (await create.Should().ThrowAsync<AgentOsException>()).Which.Code.Should().Be(AgentOsErrorCode.InvalidArgument);
    }

    [Fact]
    public async Task Agent_CannotCreateANestedUserNamespace()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        var reply = (await session.SendPromptAsync("sh unshare --user --map-root-user id -u 2>&1")).Text;

        reply.Should().NotBe("exit 0\n0", "a root with every capability in a fresh user namespace is where most kernel local-root exploits start");
        reply.Should().StartWith("exit 1");
    }

    [Fact]
    public async Task TheSandbox_RefusesTheKernelsRiskiestSystemCalls_ToARawSyscall()
    {
        var session = await fixture.NewVm().CreateSessionAsync(TestAgents.Default);
        var calls = new Dictionary<string, (string Call, string Refused)>
        {
            // Without the filter: EFAULT (the kernel reads the NULL argument), i.e. the call reached the kernel.
            ["perf_event_open(NULL, …)"] = ("298 0 0 -1 -1 0", "-1 errno 1"),
            ["bpf(BPF_PROG_LOAD, NULL, 0)"] = ("321 5 0 0", "-1 errno 1"),
            ["keyctl(KEYCTL_GET_KEYRING_ID, session keyring, create)"] = ("250 0 -3 1", "-1 errno 1"),
            ["unshare(CLONE_NEWUSER)"] = ("272 0x10000000", "-1 errno 1"),
            ["unshare(CLONE_NEWNET)"] = ("272 0x40000000", "-1 errno 1"),
            ["setns(0, 0)"] = ("308 0 0", "-1 errno 1"),
            ["io_uring_setup(1, NULL)"] = ("425 1 0", "-1 errno 38"),
            ["userfaultfd(0)"] = ("323 0", "-1 errno 1"),
            ["open_by_handle_at(…)"] = ("304 -100 0 0", "-1 errno 1"),
        };

        foreach (var (name, (call, refused)) in calls)
        {
            (await session.SendPromptAsync("syscall " + call)).Text.Should().Be(refused, $"the seccomp filter refuses {name}");
        }

        (await session.SendPromptAsync("syscall 39")).Text.Should().NotStartWith("-1", "getpid, like every ordinary call, still works");
    }

    [Fact]
    public async Task Agent_CannotLeaveASetuidOrSetgidFile_OnTheHost()
    {
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        var reply = (await session.SendPromptAsync("sh cp /bin/true ~/suid && chmod 4755 ~/suid; chmod 2755 ~/suid; chmod u+s,g+s ~/suid; stat -c %a ~/suid")).Text;

        reply.Should().StartWith("exit 0\n755\n", "chmod with S_ISUID or S_ISGID is refused inside the sandbox").And.Contain("Operation not permitted");
        var onHost = File.GetUnixFileMode(Path.Combine(fixture.VmHome(vm.Id), "suid"));
        (onHost & (UnixFileMode.SetUser | UnixFileMode.SetGroup)).Should().Be(UnixFileMode.None, "a setuid file of the server's user on the host is a way up for whoever runs it");
    }

    [Fact]
    public async Task FilesAnAgentCreates_BelongOnTheHostToAnUnprivilegedUidOfItsOwnVm()
    {
        var first = fixture.NewVm();
        var second = fixture.NewVm();
        var owners = new List<int>();
        foreach (var vm in new[] { first, second })
        {
            var session = await vm.CreateSessionAsync(TestAgents.Default);
            (await session.SendPromptAsync("sh mkdir ~/made && touch ~/made/file && id -u")).Text.Should().Be("exit 0\n1000", "inside, the agent is agentos (1000)");
            var folder = OwnerOf(Path.Combine(fixture.VmHome(vm.Id), "made"));
            var file = OwnerOf(Path.Combine(fixture.VmHome(vm.Id), "made", "file"));
            file.Should().Be(folder);
            owners.Add(file);
        }

        owners.Should().NotContain(0, "a file an agent creates must never be root's on the host");
        owners.Should().NotContain(ServerUid, "nor the server's own user's, whose files the agent would then share");
        owners.Should().OnlyContain(uid => uid >= AgentOsOptions.DefaultSandboxFirstUid, "agents run as uids of the sandbox range");
        owners[0].Should().NotBe(owners[1], "each VM has a uid of its own, so an agent that escaped its sandbox still could not touch another VM's files");
    }

    [Fact]
    public async Task AnAgent_CannotReadRootOnlyFiles_OfAHostFolderItsTypeExposes()
    {
        // An operator exposes a host folder to an agent type (tools, a shared cache): the agent may read there what any
        // unprivileged user could, not the files only root may read.
        var secret = Path.Combine(fixture.ExposedFolder, "root-only-" + Guid.NewGuid().ToString("N"));
        var open = Path.Combine(fixture.ExposedFolder, "public-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(secret, "ROOT-SECRET");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await File.WriteAllTextAsync(open, "PUBLIC");
        File.SetUnixFileMode(open, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var session = await fixture.NewVm().CreateSessionAsync(TestAgents.ExposesHostFolder);

        (await session.SendPromptAsync($"sh cat {open}")).Text.Should().Be("exit 0\nPUBLIC", "the folder is exposed");
        var reply = (await session.SendPromptAsync($"sh cat {secret}")).Text;

        reply.Should().NotContain("ROOT-SECRET", "a file only its owner may read is not the agent's");
        reply.Should().StartWith("exit 1").And.Contain("Permission denied");
    }

    [Fact]
    public async Task FilesTheServerOrAnOperatorPutsInAHome_AreTheAgentsToChange()
    {
        var vm = fixture.NewVm();
        var home = fixture.VmHome(vm.Id);
        Directory.CreateDirectory(Path.Combine(home, "provisioned", "deep")); // as an operator provisions a VM's config, before its agent runs
        await File.WriteAllTextAsync(Path.Combine(home, "provisioned", "deep", "config.json"), "{}");
        var session = await vm.CreateSessionAsync(TestAgents.Default);

        (await session.SendPromptAsync("sh echo more >> ~/provisioned/deep/config.json && mkdir ~/provisioned/deep/sub && echo ok")).Text.Should().Be("exit 0\nok");
        (await session.SendPromptAsync("write /home/agentos/server/made/it.txt by fs/write_text_file")).Text.Should().Be("wrote /home/agentos/server/made/it.txt");
        (await session.SendPromptAsync("sh echo more >> ~/server/made/it.txt && mkdir ~/server/made/sub && echo ok")).Text.Should().Be("exit 0\nok",
            "what the server writes for the agent (and the folders it makes for it) belong to the agent");
        var agent = OwnerOf(Path.Combine(home, "provisioned", "deep", "sub"));
        new[] { "provisioned", "provisioned/deep", "provisioned/deep/config.json", "server", "server/made", "server/made/it.txt" }
            .Select(p => OwnerOf(Path.Combine(home, p))).Should().AllBeEquivalentTo(agent);
    }

    [Fact]
    public async Task TheDataDirectory_AndAVmsDatabase_AreTheServersUsersAlone()
    {
        var vm = fixture.NewVm();
        await vm.CreateSessionAsync(TestAgents.Default);
        var vmDirectory = Path.Combine(fixture.DataDirectory, "vms", vm.Id);

        GroupOrOther(File.GetUnixFileMode(fixture.DataDirectory)).Should().Be(0, "the data directory is 0700");
        GroupOrOther(File.GetUnixFileMode(vmDirectory)).Should().Be(0, "a VM's folder is 0700");
        foreach (var file in new[] { "vm.db", "vm.db-wal", "vm.db-shm" }.Select(f => Path.Combine(vmDirectory, f)).Where(File.Exists))
        {
            GroupOrOther(File.GetUnixFileMode(file)).Should().Be(0, $"{Path.GetFileName(file)} is 0600");
        }
    }

    [Fact]
    public async Task FsRequests_WhileTheAgentSwapsADirectoryAndASymlink_NeverReadOrWriteOutsideTheHome()
    {
        const int Attempts = 2000;
        var gcc = HostTool("gcc");
        var vm = fixture.NewVm();
        var session = await vm.CreateSessionAsync(TestAgents.Default);
        var home = fixture.VmHome(vm.Id);
        var outside = Directory.CreateTempSubdirectory("agentos-outside-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(outside, "f"), "OUTSIDE-SECRET");
            Directory.CreateDirectory(Path.Combine(home, "d"));
            await File.WriteAllTextAsync(Path.Combine(home, "d", "f"), "inside");
            File.CreateSymbolicLink(Path.Combine(home, "l"), outside); // the host path the server would follow
            // The agent's own tool: swap d and l (renameat2 RENAME_EXCHANGE) as fast as it can, in the background.
            await File.WriteAllTextAsync(Path.Combine(home, "swap.c"), """
                #define _GNU_SOURCE
                #include <fcntl.h>
                #include <stdio.h>
                #include <sys/syscall.h>
                #include <unistd.h>
                int main(int argc, char **argv) { for (;;) syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], 2 /* RENAME_EXCHANGE */); }
                """);
            Run(gcc, "-O2", "-o", Path.Combine(home, "swap"), Path.Combine(home, "swap.c"));
            (await session.SendPromptAsync("sh cd /home/agentos && nohup ./swap d l >/dev/null 2>&1 & echo started")).Text.Should().Be("exit 0\nstarted");

            var leaked = 0;
            for (var i = 0; i < Attempts; i++)
            {
                if ((await session.SendPromptAsync("read /home/agentos/d/f")).Text.Contains("OUTSIDE-SECRET", StringComparison.Ordinal))
                {
                    leaked++;
                }

                await session.SendPromptAsync($"write /home/agentos/d/f pwned-{i}");
            }

            leaked.Should().Be(0, $"no fs/read_text_file of {Attempts} read the file outside the home");
            (await File.ReadAllTextAsync(Path.Combine(outside, "f"))).Should().Be("OUTSIDE-SECRET", $"no fs/write_text_file of {Attempts} wrote outside the home");
            Directory.GetFileSystemEntries(outside).Should().ContainSingle("nothing was created outside the home");
            (await session.GetEventsAsync()).Should().NotContain(e => e.Params.Contains("OUTSIDE-SECRET"), "the transcript holds nothing from outside the home");
        }
        finally
        {
            await session.CloseAsync();
            Directory.Delete(outside, recursive: true);
        }
    }

    private static int GroupOrOther(UnixFileMode mode) => (int)mode & 0b000_111_111;

    private static int ServerUid => (int)geteuid();

    /// <summary>The owner's uid on the host (coreutils' stat: .NET has no API for it).</summary>
    private static int OwnerOf(string path)
    {
        using var process = Process.Start(new ProcessStartInfo("stat", ["-c", "%u", path]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        process.ExitCode.Should().Be(0, $"stat {path}: {process.StandardError.ReadToEnd()}");
        return int.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();

    private static string HostTool(string name) =>
        new[] { "/usr/bin", "/usr/local/bin", "/bin" }.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"{name} is needed to build the attacker's library (apt-get install {name}; .ci/run installs it).");

    private static void Run(string command, params string[] args)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        process.ExitCode.Should().Be(0, $"{command} {string.Join(' ', args)} failed: {stderr}");
    }
}
