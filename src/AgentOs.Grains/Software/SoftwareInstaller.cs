using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CliWrap;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentOs.Software;

/// <summary>
/// Installs software packages into the shared software directory
/// (<c>&lt;software&gt;/&lt;name&gt;-&lt;hash of the lockfile&gt;</c>) with the host's npm, once, as
/// <c>npm ci --ignore-scripts</c> from the package's committed lockfile (every transitive dependency pinned
/// with its integrity hash, and no package's lifecycle script runs on the host), with an environment that
/// holds none of the server's (its API keys included), only what npm needs to reach its registry. Once:
/// concurrent callers in this process share one install, other processes wait on a lock file, and
/// a finished install is marked so later calls cost one file check. An install goes to a temporary
/// folder first and is renamed into place only when complete, so a crash never leaves half a package.
/// Progress is logged every few seconds; failures are <see cref="AgentOsErrorCode.SoftwareUnavailable"/>
/// with npm's own words.
/// </summary>
internal sealed partial class SoftwareInstaller(IOptions<AgentOsOptions> options, ILogger<SoftwareInstaller> logger)
{
    private const string Marker = ".agentos-installed";
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _installs = new(StringComparer.Ordinal);

    public string SoftwareDirectory => options.Value.SoftwareDirectoryFullPath;

    /// <summary>The folder <paramref name="package"/> lives in once installed.</summary>
    public string InstallDirectory(SoftwarePackage package)
    {
        var key = string.Join('\n', package.NpmPackages.Concat(package.Files?.Select(f => f.Key + "=" + f.Value) ?? []).Append(package.Lockfile));
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..10];
        return Path.Combine(SoftwareDirectory, $"{package.Name}-{hash}");
    }

    /// <summary>Returns the install folder, installing first if needed. The install goes on if <paramref name="cancellationToken"/> fires.</summary>
    public Task<string> EnsureInstalledAsync(SoftwarePackage package, CancellationToken cancellationToken = default)
    {
        var dir = InstallDirectory(package);
        if (File.Exists(Path.Combine(dir, Marker)))
        {
            return Task.FromResult(dir);
        }

        var install = _installs.GetOrAdd(dir, _ => new Lazy<Task<string>>(() => InstallOnceAsync(package, dir)));
        return install.Value.WaitAsync(cancellationToken);
    }

    private async Task<string> InstallOnceAsync(SoftwarePackage package, string dir)
    {
        try
        {
            await using var held = await AcquireLockAsync(dir + ".lock").ConfigureAwait(false);
            if (!File.Exists(Path.Combine(dir, Marker)))
            {
                await InstallAsync(package, dir).ConfigureAwait(false);
            }

            return dir;
        }
        finally
        {
            _installs.TryRemove(dir, out _); // a failure is retried by the next caller
        }
    }

    private async Task InstallAsync(SoftwarePackage package, string dir)
    {
        await CheckNodeAsync(package).ConfigureAwait(false);
        var specs = string.Join(' ', package.NpmPackages);
        Log.Installing(logger, package.Name, specs, dir);
        var stopwatch = Stopwatch.StartNew();
        var temporary = $"{dir}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        Directory.CreateDirectory(temporary);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(temporary, "package.json"), package.PackageJson()).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(temporary, "package-lock.json"), package.Lockfile).ConfigureAwait(false);
            await RunNpmAsync(package, temporary, stopwatch).ConfigureAwait(false);
            foreach (var (relative, content) in package.Files ?? new Dictionary<string, string>())
            {
                var path = Path.Combine(temporary, relative);
                await File.WriteAllTextAsync(path, AgentType.Expand(content, dir)).ConfigureAwait(false);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                    UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
                }
            }

            await File.WriteAllTextAsync(Path.Combine(temporary, Marker), JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["packages"] = specs,
                ["installedAt"] = DateTimeOffset.UtcNow.ToString("O"),
                ["seconds"] = stopwatch.Elapsed.TotalSeconds.ToString("F1", System.Globalization.CultureInfo.InvariantCulture),
            })).ConfigureAwait(false);
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true); // an unmarked leftover of an older attempt
            }

            Directory.Move(temporary, dir);
            Log.Installed(logger, package.Name, stopwatch.Elapsed.TotalSeconds, dir);
        }
        finally
        {
            if (Directory.Exists(temporary))
            {
                Directory.Delete(temporary, recursive: true);
            }
        }
    }

    private async Task RunNpmAsync(SoftwarePackage package, string folder, Stopwatch stopwatch)
    {
        var fetched = 0;
        var tail = new Queue<string>();
        using var progress = new Timer(_ => Log.Progress(logger, package.Name, Volatile.Read(ref fetched), stopwatch.Elapsed.TotalSeconds), null, ProgressInterval, ProgressInterval);
        void OnLine(string line)
        {
            if (line.Contains("http fetch", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref fetched);
                return;
            }

            lock (tail)
            {
                tail.Enqueue(line);
                if (tail.Count > 20)
                {
                    tail.Dequeue();
                }
            }
        }

        CommandResult result;
        try
        {
            result = await Cli.Wrap("npm")
                .WithArguments(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=http", "--prefix", folder])
                .WithWorkingDirectory(folder)
                .WithEnvironmentVariables(NpmEnvironment(Environment.GetEnvironmentVariables()))
                .WithValidation(CommandResultValidation.None)
                .WithStandardOutputPipe(PipeTarget.ToDelegate(OnLine))
                .WithStandardErrorPipe(PipeTarget.ToDelegate(OnLine))
                .ExecuteAsync().ConfigureAwait(false);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw Missing(package, "npm");
        }

        if (result.ExitCode != 0)
        {
            string detail;
            lock (tail)
            {
                detail = string.Join('\n', tail.Where(l => !l.Contains("Unknown user config", StringComparison.Ordinal)));
            }

            throw new AgentOsException(AgentOsErrorCode.SoftwareUnavailable,
                $"Installing '{package.Name}' ({string.Join(' ', package.NpmPackages)}) failed: npm exited with {result.ExitCode}. Check that the server reaches the npm registry. npm said:\n{detail}");
        }
    }

    /// <summary>
    /// npm's environment: every variable of the server's removed (CliWrap sets the removed ones to null) but the
    /// few npm needs to find itself and its registry: PATH, HOME (its user config), locale, temp, proxies, CA
    /// certificates and its own <c>npm_config_*</c> settings.
    /// </summary>
    internal static Dictionary<string, string?> NpmEnvironment(System.Collections.IDictionary server)
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in server)
        {
            var key = (string)entry.Key;
            result[key] = NpmNeeds(key) ? (string?)entry.Value : null;
        }

        return result;
    }

    private static readonly HashSet<string> NpmVariables = new(StringComparer.OrdinalIgnoreCase)
    {
        "PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR",
    };

    private static bool NpmNeeds(string key) =>
        NpmVariables.Contains(key) || key.StartsWith("npm_config_", StringComparison.OrdinalIgnoreCase);

    private static async Task CheckNodeAsync(SoftwarePackage package)
    {
        string version;
        try
        {
            var output = new StringBuilder();
            await Cli.Wrap("node").WithArguments("--version").WithStandardOutputPipe(PipeTarget.ToStringBuilder(output))
                .WithValidation(CommandResultValidation.None).ExecuteAsync().ConfigureAwait(false);
            version = output.ToString().Trim();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw Missing(package, "node");
        }

        if (!int.TryParse(version.TrimStart('v').Split('.')[0], out var major) || major < 20)
        {
            throw new AgentOsException(AgentOsErrorCode.SoftwareUnavailable,
                $"Agent type '{package.Name}' needs Node.js 20 or newer; the server's node is '{version}'.");
        }
    }

    private static AgentOsException Missing(SoftwarePackage package, string tool) => new(AgentOsErrorCode.SoftwareUnavailable,
        $"Agent type '{package.Name}' needs Node.js 20+ and npm on the server's PATH, and '{tool}' was not found. Install Node.js (e.g. apt-get install nodejs npm) and restart the server.");

    /// <summary>An exclusive lock file shared with other server processes; waits while another holds it.</summary>
    private static async Task<FileStream> AcquireLockAsync(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            }
            catch (IOException)
            {
                await Task.Delay(250).ConfigureAwait(false);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Installing software '{Name}' ({Specs}) into {Dir}; this takes a while on first use")]
        public static partial void Installing(ILogger logger, string name, string specs, string dir);

        [LoggerMessage(Level = LogLevel.Information, Message = "Still installing '{Name}': {Fetched} npm fetches, {Seconds:F0} s")]
        public static partial void Progress(ILogger logger, string name, int fetched, double seconds);

        [LoggerMessage(Level = LogLevel.Information, Message = "Installed software '{Name}' in {Seconds:F1} s at {Dir}")]
        public static partial void Installed(ILogger logger, string name, double seconds, string dir);
    }
}
