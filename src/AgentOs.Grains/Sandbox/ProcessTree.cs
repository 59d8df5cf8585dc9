using System.Globalization;

namespace AgentOs.Sandbox;

/// <summary>
/// An agent's processes as <c>/proc</c> shows them: the tree under the process AgentOs started, level by level, without
/// bubblewrap's own processes (which pass no signal on; a signal to them would only take the sandbox down at once).
/// </summary>
internal static class ProcessTree
{
    /// <summary>The levels of the tree under <paramref name="root"/> (itself included), nearest first; bubblewrap's processes are skipped but their children kept.</summary>
    public static List<List<int>> Levels(int root)
    {
        var levels = new List<List<int>>();
        var level = new List<int> { root };
        var seen = new HashSet<int>();
        while (level.Count > 0 && seen.Count < 4096)
        {
            var agents = new List<int>();
            var next = new List<int>();
            foreach (var pid in level.Where(seen.Add))
            {
                if (Name(pid) is not { } name)
                {
                    continue; // gone
                }

                if (name != "bwrap")
                {
                    agents.Add(pid);
                }

                next.AddRange(Children(pid));
            }

            if (agents.Count > 0)
            {
                levels.Add(agents);
            }

            level = next;
        }

        return levels;
    }

    /// <summary>Whether the process is still running (a zombie has ended: only its parent's wait is missing).</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat.LastIndexOf(')') is var end and > 0 && end + 2 < stat.Length ? stat[end + 2] : 'X';
            return state is not ('Z' or 'X');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string? Name(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The children of every thread of the process (a child belongs to the thread that forked it).</summary>
    private static IEnumerable<int> Children(int pid)
    {
        string[] tasks;
        try
        {
            tasks = Directory.GetDirectories($"/proc/{pid}/task");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            yield break;
        }

        foreach (var task in tasks)
        {
            string children;
            try
            {
                children = File.ReadAllText(Path.Combine(task, "children"));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (var child in children.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                yield return int.Parse(child, CultureInfo.InvariantCulture);
            }
        }
    }
}
