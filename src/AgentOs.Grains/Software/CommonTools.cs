namespace AgentOs.Software;

/// <summary>
/// The <c>common</c> package: the base tools every VM has. They are the host's own, seen read-only
/// through <c>/usr</c> (nothing is installed); this says which of the usual ones the host has, for
/// the start log and the agents' OS instructions.
/// </summary>
internal static class CommonTools
{
    private static readonly string[] Wanted =
        ["sh", "bash", "ls", "cat", "grep", "sed", "awk", "find", "diff", "patch", "tar", "gzip", "git", "curl", "node", "npm", "python3", "make", "rg"];

    private static readonly Lazy<(IReadOnlyList<string> Present, IReadOnlyList<string> Missing)> Found = new(() =>
    {
        var present = Wanted.Where(t => File.Exists("/usr/bin/" + t) || File.Exists("/bin/" + t) || File.Exists("/usr/local/bin/" + t)).ToList();
        return (present, Wanted.Except(present).ToList());
    });

    public static IReadOnlyList<string> Present => Found.Value.Present;

    public static IReadOnlyList<string> Missing => Found.Value.Missing;
}
