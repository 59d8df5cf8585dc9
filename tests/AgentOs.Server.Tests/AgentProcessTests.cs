using System.Text;
using AgentOs.Agents;
using AgentOs.Sandbox;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary><see cref="AgentProcess"/> on its own, below the grain.</summary>
public sealed class AgentProcessTests
{
    /// <summary>
    /// bubblewrap's <c>--die-with-parent</c> is <c>PR_SET_PDEATHSIG</c>, which fires when the thread that
    /// started bwrap exits, not the server process. Thread-pool threads retire when idle, so an agent started
    /// from one used to be killed (exit 137) some time after a burst of work. Here the starting thread exits on
    /// purpose; the agent must live on.
    /// </summary>
    [Fact]
    public async Task AnAgentUnderDieWithParent_OutlivesTheThreadThatStartedIt()
    {
        var bwrap = SandboxSelector.FindOnPath("bwrap");
        bwrap.Should().NotBeNull("the sandbox tests need bubblewrap (.ci/run installs it)");
        var launch = new AgentLaunch(bwrap!, ["--die-with-parent", "--dev-bind", "/", "/", "cat"],
            new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }, Path.GetTempPath());

        AgentProcess? started = null;
        Exception? failed = null;
        string? starterTask = null;
        var starter = new Thread(() =>
        {
            try
            {
                starterTask = "/proc/self/task/" + Path.GetFileName(new FileInfo("/proc/thread-self").LinkTarget);
                started = AgentProcess.StartAsync(launch, (_, _) => { }, CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (Exception ex)
            {
                failed = ex;
            }
        });
        starter.Start();
        starter.Join();
        failed.Should().BeNull();
        await using var agent = started!;

        // The kernel sends the parent-death signal when the OS thread is gone; wait for exactly that.
        await Poll.UntilAsync(() => !Directory.Exists(starterTask), "the starting thread has exited");

        await agent.StandardInput.WriteAsync("still alive\n"u8.ToArray());
        await agent.StandardInput.FlushAsync();
        var buffer = new byte[64];
        var read = await agent.StandardOutput.ReadAsync(buffer).AsTask().WaitAsync(TestTimeouts.Default);
        Encoding.UTF8.GetString(buffer, 0, read).Should().Be("still alive\n", "the agent outlives the thread that started it");
        agent.HasExited.Should().BeFalse();
    }
}
