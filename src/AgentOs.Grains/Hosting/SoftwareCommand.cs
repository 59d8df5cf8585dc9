using AgentOs.Software;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentOs.Hosting;

/// <summary>
/// The server's <c>install</c> command: installs software packages ahead of time
/// (<c>dotnet run --project src/AgentOs.Server -- install pi codex</c>, or <c>install all</c>) into the
/// same software directory the server uses, then exits.
/// </summary>
public static class SoftwareCommand
{
    /// <summary>The built-in agent types, each a software package.</summary>
    public static IReadOnlyList<string> BuiltInAgentTypes { get; } = BuiltInSoftware.All.Select(p => p.Name).ToList();

    /// <summary>Installs <paramref name="names"/>; returns the process exit code.</summary>
    public static async Task<int> InstallAsync(IConfiguration configuration, IReadOnlyList<string> names, ILoggerFactory loggers)
    {
        var options = new AgentOsOptions();
        configuration.GetSection(AgentOsOptions.SectionName).Bind(options);
        var wanted = names.Contains("all") ? BuiltInAgentTypes : names;
        if (wanted.Count == 0 || wanted.FirstOrDefault(n => BuiltInSoftware.Find(n) is null) is { } unknown)
        {
            await Console.Error.WriteLineAsync($"Usage: install <package>… | all. Packages: {string.Join(", ", BuiltInAgentTypes)}." +
                (wanted.Count == 0 ? "" : $" '{wanted.First(n => BuiltInSoftware.Find(n) is null)}' is not one of them.")).ConfigureAwait(false);
            return 2;
        }

        var installer = new SoftwareInstaller(Options.Create(options), loggers.CreateLogger<SoftwareInstaller>());
        foreach (var name in wanted)
        {
            try
            {
                var dir = await installer.EnsureInstalledAsync(BuiltInSoftware.Find(name)!).ConfigureAwait(false);
                await Console.Out.WriteLineAsync($"{name}: {dir}").ConfigureAwait(false);
            }
            catch (AgentOsException ex)
            {
                await Console.Error.WriteLineAsync($"{name}: {ex.Message}").ConfigureAwait(false);
                return 1;
            }
        }

        return 0;
    }
}
