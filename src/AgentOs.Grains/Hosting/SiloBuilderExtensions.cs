using AgentOs.Agents;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace AgentOs.Hosting;

/// <summary>Adds AgentOs to any Orleans silo.</summary>
public static class SiloBuilderExtensions
{
    /// <summary>
    /// Registers the VM grain, its services and the <see cref="AgentOsNames.StreamProvider"/> memory
    /// stream provider. Options bind from the <c>AgentOs</c> section when <paramref name="configuration"/> is given.
    /// </summary>
    public static ISiloBuilder UseAgentOs(this ISiloBuilder silo, IConfiguration? configuration = null, Action<AgentOsOptions>? configure = null)
    {
        var options = silo.Services.AddOptions<AgentOsOptions>();
        if (configuration is not null)
        {
            options.Bind(configuration.GetSection(AgentOsOptions.SectionName));
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.Validate(o => !string.IsNullOrWhiteSpace(o.DataDirectory), "AgentOs:DataDirectory must not be empty.");
        silo.Services.AddSingleton<AgentTypeRegistry>();
        silo.AddMemoryStreams(AgentOsNames.StreamProvider);
        silo.AddMemoryGrainStorage("PubSubStore");
        return silo;
    }
}
