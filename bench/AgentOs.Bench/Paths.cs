using System.Reflection;

namespace AgentOs.Bench;

/// <summary>Where the executables the benchmark runs live (the same AssemblyMetadata scheme as the server tests).</summary>
internal static class Paths
{
    public static string TestAgentDll => Metadata("TestAgentDll");

    public static string ServerDll => Metadata("ServerDll");

    public static string BuildConfiguration => typeof(Paths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .FirstOrDefault(a => a.Key == "BuildConfiguration")?.Value ?? "?";

    /// <summary>The dotnet host (DOTNET_HOST_PATH when the SDK sets it, else the first on PATH).</summary>
    public static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
        ? host
        : (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "dotnet")).FirstOrDefault(File.Exists) ?? "dotnet";

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

    private static string Metadata(string key)
    {
        var path = typeof(Paths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
        var full = Path.GetFullPath(path);
        return File.Exists(full) ? full : throw new FileNotFoundException($"{key} not built at {full}; build with `dotnet build -c Release bench/AgentOs.Bench` first.");
    }
}

/// <summary>A temporary directory removed on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
