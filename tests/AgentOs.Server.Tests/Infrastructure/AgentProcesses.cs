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

    /// <summary>Pids of <c>sleep &lt;tag&gt;</c> processes on the host (each test uses tags of its own, unusual durations).</summary>
    public static List<int> Sleepers(string tag)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
                if (cmdline.Length == 2 && cmdline[0].EndsWith("sleep", StringComparison.Ordinal) && cmdline[1] == tag)
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
            }
        }

        return found;
    }
}
