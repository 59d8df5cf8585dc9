using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace AgentOs.Testing;

// Compiled into the test projects and the benchmark (see their .csproj): the tools for running
// AgentOs' own executables as real processes on a developer's or CI's machine.

/// <summary>Built executables, located through <c>AssemblyMetadata</c> attributes the project file writes.</summary>
internal static class BuiltArtifacts
{
    /// <summary>The path stored under <paramref name="key"/>; throws when it has not been built.</summary>
    public static string Path(string key)
    {
        var path = typeof(BuiltArtifacts).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
        var full = System.IO.Path.GetFullPath(path);
        return File.Exists(full) ? full : throw new FileNotFoundException($"{key} is not built at {full}; build the solution first.");
    }

    /// <summary>The dotnet host: DOTNET_HOST_PATH when the SDK sets it, else the first on PATH.</summary>
    public static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
        ? host
        : (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => System.IO.Path.Combine(d, "dotnet")).FirstOrDefault(File.Exists) ?? "dotnet";
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
        // A server that used this folder (or its data/) as its data directory may have been killed with agent cgroups left.
        AgentCgroupLeftovers.Remove(Path);
        AgentCgroupLeftovers.Remove(System.IO.Path.Combine(Path, "data"));
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

/// <summary>Loopback ports nobody listens on (Orleans does not fail on a taken port, so runs pick their own).</summary>
internal static class FreePorts
{
    public static int[] Take(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ =>
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return listener;
        }).ToList();
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }
}

/// <summary>
/// The agent cgroups a server on a data directory made (<c>agentos/&lt;instance&gt;</c> in each hierarchy, the instance
/// named as the server names it: the first 12 hex digits of the SHA-256 of the full path), removed with whatever
/// still runs in them: the processes of a server this test started and killed.
/// </summary>
internal static class AgentCgroupLeftovers
{
    private static readonly string[] Roots = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct"];

    /// <summary>The folder under <c>agentos/</c> that a server on <paramref name="dataDirectory"/> keeps its agents' cgroups in.</summary>
    public static string Instance(string dataDirectory) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(System.IO.Path.GetFullPath(dataDirectory))))[..12];

    public static void Remove(string dataDirectory)
    {
        var instance = Instance(dataDirectory);
        foreach (var root in Roots)
        {
            var parent = System.IO.Path.Combine(root, "agentos", instance);
            if (!Directory.Exists(parent))
            {
                RemoveIfEmpty(System.IO.Path.Combine(root, "agentos"));
                continue;
            }

            // An agent's cgroup may hold its terminals' (one level more): the deepest go first, a cgroup with children cannot.
            foreach (var cgroup in Directory.GetDirectories(parent, "*", SearchOption.AllDirectories).OrderByDescending(d => d.Count(c => c == '/')).Append(parent))
            {
                for (var attempt = 0; attempt < 100 && Directory.Exists(cgroup); attempt++)
                {
                    try
                    {
                        foreach (var line in File.ReadAllLines(System.IO.Path.Combine(cgroup, "cgroup.procs")))
                        {
                            try
                            {
                                using var process = System.Diagnostics.Process.GetProcessById(int.Parse(line, System.Globalization.CultureInfo.InvariantCulture));
                                process.Kill();
                            }
                            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
                            {
                            }
                        }

                        Directory.Delete(cgroup);
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        Thread.Sleep(10);
                    }
                }
            }

            RemoveIfEmpty(System.IO.Path.Combine(root, "agentos"));
        }
    }

    /// <summary>The shared <c>agentos</c> cgroup, once no server's instance is left in it (rmdir fails while one is).</summary>
    private static void RemoveIfEmpty(string agentos)
    {
        try
        {
            if (Directory.Exists(agentos) && Directory.GetDirectories(agentos).Length == 0)
            {
                Directory.Delete(agentos);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
