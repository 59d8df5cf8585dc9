using AgentOs.Software;

namespace AgentOs.Agents;

/// <summary>
/// The base OS instructions: where the agent is and what it has. Handed to every agent whose type
/// declares how it takes instructions, unless the session sets <c>SkipOsInstructions</c>.
/// </summary>
internal static class OsInstructions
{
    public static string Text(string home, bool sandboxed, SandboxNetworkMode network) => $"""
        # Your environment
        You are a coding agent running inside an AgentOs VM.
        - Your home and default working directory is {home}. Files you write there persist: across your sessions, when the VM sleeps and wakes, and across server restarts. Other sessions of this VM see them too.
        - {(sandboxed
            ? "/tmp is private to you and is emptied when you exit. The rest of the filesystem is the host's system software, read-only; nothing outside your home is yours to change."
            : "Work inside your home; paths outside it are not part of the VM.")}
        - Tools on PATH: {string.Join(", ", CommonTools.Present)} and the rest of the host's /usr/bin.
        - Network: {network switch
        {
            SandboxNetworkMode.Internet => "outbound connections and DNS work (your LLM, package registries); the host machine itself is not reachable, except the ports its operator allows at 127.0.0.1",
            SandboxNetworkMode.None => "none (only your own loopback)",
            _ => "the host's",
        }}.
        """;
}
