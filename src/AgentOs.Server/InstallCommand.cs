using AgentOs.Hosting;

namespace AgentOs.Server;

/// <summary>
/// The server's <c>install</c> command: installs software packages ahead of time
/// (<c>dotnet run --project src/AgentOs.Server -- install pi codex</c>, or <c>install all</c>) into the
/// same software directory the server uses, then exits.
/// </summary>
internal static class InstallCommand
{
    /// <summary>Installs <paramref name="names"/>; returns the process exit code.</summary>
    public static async Task<int> RunAsync(IConfiguration configuration, IReadOnlyList<string> names, ILoggerFactory loggers)
    {
        var options = new AgentOsOptions();
        configuration.GetSection(AgentOsOptions.SectionName).Bind(options);
        var known = AgentOsSoftware.PackageNames;
        var wanted = names.Contains("all") ? known : names;
        var unknown = wanted.FirstOrDefault(n => !known.Contains(n));
        if (wanted.Count == 0 || unknown is not null)
        {
            await Console.Error.WriteLineAsync($"Usage: install <package>… | all. Packages: {string.Join(", ", known)}." +
                (unknown is null ? "" : $" '{unknown}' is not one of them.")).ConfigureAwait(false);
            return 2;
        }

        foreach (var name in wanted)
        {
            try
            {
                var dir = await AgentOsSoftware.InstallAsync(options, name, loggers).ConfigureAwait(false);
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
