using System.Text.RegularExpressions;
using AgentOs.Server.Tests.Infrastructure;

namespace AgentOs.Server.Tests;

/// <summary>
/// The folders of <c>src/AgentOs.Grains</c> form a one-way stack: a folder uses only the folders below it,
/// never one that uses it back. Read from the source: a folder uses another when its code names a
/// top-level type declared there (comments and strings left out). Most of Grains shares the root
/// namespace's visibility, so <c>using</c> lines alone would not tell.
/// </summary>
public sealed partial class LayoutTests
{
    /// <summary>Bottom first. "." is the project root: options and shared value types.</summary>
    private static readonly string[] Stack = [".", "Layout", "Storage", "Software", "Events", "Sandbox", "Agents", "Sessions", "Vm", "Hosting"];

    [Fact]
    public void GrainsFolders_FormAOneWayStack_EachUsingOnlyTheOnesBelowIt()
    {
        var uses = FolderUses(Path.Combine(TestPaths.RepositoryRoot, "src", "AgentOs.Grains"));

        uses.Keys.Should().BeEquivalentTo(Stack, "every folder of AgentOs.Grains has its place in the stack (add a new one to Stack)");
        var upward = uses.SelectMany(u => u.Value.Where(to => Array.IndexOf(Stack, to.Key) >= Array.IndexOf(Stack, u.Key))
            .Select(to => $"{u.Key} uses {to.Key} ({string.Join(", ", to.Value.Take(5))})")).ToList();
        upward.Should().BeEmpty("a folder uses only folders below it in the stack: " + string.Join(" < ", Stack));
    }

    /// <summary>Folder → (folder it uses → the type names it uses there).</summary>
    private static Dictionary<string, Dictionary<string, SortedSet<string>>> FolderUses(string root)
    {
        var files = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(root, f).Split(Path.DirectorySeparatorChar).Any(p => p is "obj" or "bin"))
            .Select(f => (Folder: FolderOf(root, f), Code: StripCommentsAndStrings(File.ReadAllText(f))))
            .ToList();
        var declaredIn = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (folder, code) in files)
        {
            foreach (Match m in TopLevelType().Matches(code))
            {
                declaredIn[m.Groups["name"].Value] = folder;
            }
        }

        var uses = files.Select(f => f.Folder).Distinct().ToDictionary(f => f, _ => new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal));
        foreach (var (folder, code) in files)
        {
            foreach (Match word in Identifier().Matches(code))
            {
                if (declaredIn.TryGetValue(word.Value, out var owner) && owner != folder)
                {
                    (uses[folder].TryGetValue(owner, out var names) ? names : uses[folder][owner] = new SortedSet<string>(StringComparer.Ordinal)).Add(word.Value);
                }
            }
        }

        return uses;
    }

    private static string FolderOf(string root, string file)
    {
        var relative = Path.GetRelativePath(root, Path.GetDirectoryName(file)!);
        return relative.Split(Path.DirectorySeparatorChar)[0];
    }

    private static string StripCommentsAndStrings(string code) => CommentOrString().Replace(code, " ");

    [GeneratedRegex(@"^(?:public|internal|file)\s+(?:(?:static|sealed|abstract|partial|readonly|record)\s+)*(?:class|record|struct|enum|interface)\s+(?<name>\w+)", RegexOptions.Multiline)]
    private static partial Regex TopLevelType();

    [GeneratedRegex(@"(?<!\.)\b[A-Z]\w*\b")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/|""""""[\s\S]*?""""""|@""(?:[^""]|"""")*""|\$?""(?:[^""\\\n]|\\.)*""|'(?:[^'\\\n]|\\.)'", RegexOptions.Singleline)]
    private static partial Regex CommentOrString();
}
