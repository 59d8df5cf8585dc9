using System.Diagnostics;
using System.Text;

namespace AgentOs.Sandbox;

/// <summary>The sandbox's helper processes (a VM's namespace holders, slirp4netns, the maker of a VM's user namespace).</summary>
internal static class HelperProcess
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Starts <paramref name="command"/> from the spawn thread (so a <c>PR_SET_PDEATHSIG</c> it sets holds while the server
    /// lives), in <c>/</c>, with its stdio redirected and a fixed environment of its own: nothing of the server's.
    /// </summary>
    public static Task<Process> StartAsync(string command, IReadOnlyList<string> args) => SpawnThread.RunAsync(() =>
    {
        var start = new ProcessStartInfo(command)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        start.Environment.Clear();
        start.Environment["PATH"] = "/usr/bin:/bin:/usr/sbin:/sbin";
        start.Environment["LANG"] = "C.UTF-8";
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start) ?? throw new InvalidOperationException($"{command} did not start");
    });

    /// <summary>Waits for a helper's ready signal; on failure or timeout kills it and throws <paramref name="failure"/> of what went wrong, its stderr included.</summary>
    public static async Task WaitReadyAsync(string what, Process process, Func<Task<bool>> ready, Func<string, string> failure, CancellationToken cancellationToken)
    {
        var stderr = Drain(process.StandardError);
        string? problem;
        try
        {
            problem = await ready().WaitAsync(ReadyTimeout, cancellationToken).ConfigureAwait(false) ? null : "it stopped";
        }
        catch (TimeoutException)
        {
            problem = $"no answer in {ReadyTimeout.TotalSeconds:0} s";
        }
        catch (IOException ex)
        {
            problem = ex.Message;
        }
        catch
        {
            Kill(process);
            throw;
        }

        if (problem is null)
        {
            return;
        }

        Kill(process);
        var errors = await stderr.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
        throw new AgentOsException(AgentOsErrorCode.AgentStartFailed,
            failure($"{what} failed ({problem}{(process.HasExited ? $", exit {process.ExitCode}" : "")}: {errors.Trim()})"));
    }

    /// <summary>Reads a helper's stderr to the end (bounded), so it never blocks on a full pipe.</summary>
    private static async Task<string> Drain(StreamReader reader)
    {
        var text = new StringBuilder();
        var buffer = new char[1024];
        int read;
        while ((read = await reader.ReadAsync(buffer.AsMemory()).ConfigureAwait(false)) > 0)
        {
            if (text.Length < 4096)
            {
                text.Append(buffer, 0, read);
            }
        }

        return text.ToString();
    }

    public static void Kill(Process process)
    {
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }
}
