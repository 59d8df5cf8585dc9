using System.Diagnostics;

namespace AgentOs.Server.Tests.Infrastructure;

/// <summary>Waiting on agent processes the server started for a test, by pid.</summary>
public static class AgentProcesses
{
    /// <summary>
    /// Waits until the process is gone. With <paramref name="killIfStillRunning"/>, a process still
    /// running at the timeout is killed (it was started for this test) and the wait fails.
    /// </summary>
    public static async Task WaitForExitAsync(int pid, bool killIfStillRunning = false)
    {
        Process process;
        try
        {
            process = Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            return; // already gone
        }

        using (process)
        {
            try
            {
                await process.WaitForExitAsync().WaitAsync(TestTimeouts.Default);
            }
            catch (TimeoutException) when (killIfStillRunning)
            {
                process.Kill();
                throw new InvalidOperationException($"The agent (pid {pid}) did not exit in time; killed it.");
            }
        }
    }
}
