using System.Reflection;

namespace AgentOs.Bench;

/// <summary>Where the executables the benchmark runs live (the same AssemblyMetadata scheme as the server tests).</summary>
internal static class Paths
{
    public static string TestAgentDll => BuiltArtifacts.Path("TestAgentDll");

    public static string ServerDll => BuiltArtifacts.Path("ServerDll");

    public static string BuildConfiguration => typeof(Paths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .FirstOrDefault(a => a.Key == "BuildConfiguration")?.Value ?? "?";

    /// <summary>How the server the bench runs was built: "published ReadyToRun (rid)" in Release, "plain build" otherwise.</summary>
    public static string ServerBuild => typeof(Paths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .FirstOrDefault(a => a.Key == "ServerBuild")?.Value ?? "?";

    public static string Dotnet => BuiltArtifacts.Dotnet;

    /// <summary>The directory holding AgentOs.sln, found by walking up from the working directory, then from the bench binary.</summary>
    public static string? RepoRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "AgentOs.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return null;
    }
}
