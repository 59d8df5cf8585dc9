using AgentOs.Agents;
using AgentOs.Software;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentOs.Hosting;

/// <summary>AgentOs' agent types and software packages, for a host's own commands and messages.</summary>
public static class AgentOsSoftware
{
    /// <summary>The built-in software packages, each a built-in agent type (<c>pi</c>, <c>claude-code</c>, …).</summary>
    public static IReadOnlyList<string> PackageNames { get; } = BuiltInSoftware.All.Select(p => p.Name).ToList();

    /// <summary>
    /// Installs the built-in package <paramref name="name"/> into the software directory of <paramref name="options"/>
    /// (at once if it is installed already); returns its folder. Fails with <see cref="AgentOsErrorCode.SoftwareUnavailable"/>.
    /// </summary>
    public static Task<string> InstallAsync(AgentOsOptions options, string name, ILoggerFactory loggers, CancellationToken cancellationToken = default)
    {
        var package = BuiltInSoftware.Find(name) ?? throw new ArgumentException($"'{name}' is not a software package (known: {string.Join(", ", PackageNames)}).", nameof(name));
        return new SoftwareInstaller(Options.Create(options), loggers.CreateLogger<SoftwareInstaller>()).EnsureInstalledAsync(package, cancellationToken);
    }

    /// <summary>Every agent type a silo with <see cref="SiloBuilderExtensions.UseAgentOs"/> knows: built-in and configured, sorted.</summary>
    public static IReadOnlyList<string> GetAgentTypeNames(this IServiceProvider services) => services.GetRequiredService<AgentTypeRegistry>().Names;
}
