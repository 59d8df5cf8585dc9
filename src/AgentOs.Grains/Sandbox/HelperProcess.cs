using System.Diagnostics;

namespace AgentOs.Sandbox;

/// <summary>The sandbox's helper processes (a VM's namespace holders, slirp4netns, the maker of a VM's user namespace).</summary>
internal static class HelperProcess
{
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
}
