using AgentOs.Testing;

namespace AgentOs.Server.Tests.Infrastructure;

/// <summary>Where the executables the tests run live, and how to run them.</summary>
public static class TestPaths
{
    public static string TestAgentDll => BuiltArtifacts.Path("TestAgentDll");

    public static string ServerDll => BuiltArtifacts.Path("ServerDll");

    public static string QuickstartDll => BuiltArtifacts.Path("QuickstartDll");

    /// <summary>The dotnet host that runs the tests.</summary>
    public static string Dotnet => BuiltArtifacts.Dotnet;

    /// <summary>The repository's root (the folder holding AgentOs.sln).</summary>
    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(Path.GetDirectoryName(TestAgentDll)!);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AgentOs.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("AgentOs.sln not found above " + TestAgentDll);
        }
    }
}
