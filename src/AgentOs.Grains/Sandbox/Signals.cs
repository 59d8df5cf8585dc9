using System.Runtime.InteropServices;

namespace AgentOs.Sandbox;

/// <summary>kill(2): a signal to one process by pid, for the agent's SIGTERM and the kill of all in its cgroup.</summary>
internal static partial class Signals
{
    public const int Term = 15, Kill = 9;

    /// <summary>0 when sent, -1 when not (the process is gone, or not ours).</summary>
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Send(int pid, int signal);
}
