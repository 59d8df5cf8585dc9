using System.Diagnostics;
using System.Text.Json;
using AgentOs.Server.Tests.Infrastructure;
using AgentOs.Software;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 12, item 6: a package install must not run code of the package on the host. The attack: a package
/// whose preinstall, install and postinstall scripts would each leave a marker (and could as well read the
/// server's environment, API keys included). Installed the way built-in packages are, from a lockfile,
/// offline from a local tarball.
/// </summary>
public sealed class SoftwareInstallTests
{
    [Fact]
    public async Task APackagesLifecycleScripts_DoNotRunOnTheHost_AndTheLockfileIsWhatGetsInstalled()
    {
        using var work = new TempDirectory("agentos-install");
        var markers = Path.Combine(work.Path, "markers");
        Directory.CreateDirectory(markers);
        var source = Path.Combine(work.Path, "evil");
        Directory.CreateDirectory(source);
        await File.WriteAllTextAsync(Path.Combine(source, "index.js"), "module.exports = 42;\n");
        await File.WriteAllTextAsync(Path.Combine(source, "package.json"), JsonSerializer.Serialize(new
        {
            name = "agentos-evil-test",
            version = "1.0.0",
            main = "index.js",
            scripts = new Dictionary<string, string>
            {
                ["preinstall"] = $"env > {markers}/preinstall",
                ["install"] = $"env > {markers}/install",
                ["postinstall"] = $"env > {markers}/postinstall",
            },
        }));
        Npm(source, "pack", "--silent");
        var tarball = Path.Combine(source, "agentos-evil-test-1.0.0.tgz");

        var lockDirectory = Path.Combine(work.Path, "lock");
        Directory.CreateDirectory(lockDirectory);
        await File.WriteAllTextAsync(Path.Combine(lockDirectory, "package.json"),
            JsonSerializer.Serialize(new { name = "agentos-evil", @private = true, dependencies = new Dictionary<string, string> { ["agentos-evil-test"] = "file:" + tarball } }));
        Npm(lockDirectory, "install", "--package-lock-only", "--ignore-scripts", "--offline", "--no-audit", "--no-fund");
        var lockfile = await File.ReadAllTextAsync(Path.Combine(lockDirectory, "package-lock.json"));

        var installer = new SoftwareInstaller(Options.Create(new AgentOsOptions { DataDirectory = Path.Combine(work.Path, "data") }), NullLogger<SoftwareInstaller>.Instance);
        var package = new SoftwarePackage(["agentos-evil-test@1.0.0"], new AgentType("evil", "node", ["{dir}/node_modules/agentos-evil-test/index.js"], new Dictionary<string, string>()), lockfile);
        var dir = await installer.EnsureInstalledAsync(package).WaitAsync(TimeSpan.FromMinutes(2));

        File.Exists(Path.Combine(dir, "node_modules", "agentos-evil-test", "index.js")).Should().BeTrue("the package the lockfile names is installed");
        Directory.GetFiles(markers).Select(Path.GetFileName).Should().BeEmpty("no lifecycle script of a package runs on the host (npm ci --ignore-scripts)");
    }

    [Fact]
    public void NpmsEnvironment_HoldsNoneOfTheServersSecrets_OnlyWhatNpmNeeds()
    {
        var server = new Dictionary<string, string>
        {
            ["PATH"] = "/usr/bin",
            ["HOME"] = "/root",
            ["HTTPS_PROXY"] = "http://proxy:3128",
            ["npm_config_registry"] = "https://registry.example/",
            ["AgentOs__Agents__pi__Env__ANTHROPIC_API_KEY"] = "sk-secret",
            ["OPENAI_API_KEY"] = "sk-other",
            ["ConnectionStrings__Db"] = "Password=x",
        };

        var npm = SoftwareInstaller.NpmEnvironment(server);

        npm.Where(e => e.Value is not null).Select(e => e.Key).Should().BeEquivalentTo(["PATH", "HOME", "HTTPS_PROXY", "npm_config_registry"]);
        npm.Keys.Should().Contain("OPENAI_API_KEY", "a variable npm does not need is removed (set to null), not inherited");
    }

    [Fact]
    public void EveryBuiltInPackage_HasALockfileWhoseDirectDependenciesAreItsPinnedSpecs()
    {
        foreach (var package in BuiltInSoftware.All)
        {
            using var lockfile = JsonDocument.Parse(package.Lockfile);
            var dependencies = lockfile.RootElement.GetProperty("packages").GetProperty("").GetProperty("dependencies")
                .EnumerateObject().Select(d => $"{d.Name}@{d.Value.GetString()}");
            dependencies.Should().BeEquivalentTo(package.NpmPackages, $"{package.Name}'s lockfile (Software/Lockfiles/{package.Name}) pins what BuiltInSoftware names");
        }
    }

    private static void Npm(string directory, params string[] args)
    {
        var start = new ProcessStartInfo("npm") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        process.ExitCode.Should().Be(0, $"npm {string.Join(' ', args)} failed: {stderr.Result}");
    }
}
