using AgentOs.Storage;
using AgentOs.Agents;
using AgentOs.Events;
using AgentOs.Sandbox;
using AgentOs.Sessions;
using AgentOs.Software;
using AgentOs.Vm;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

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

        options.ValidateOnStart();
        silo.Services.AddSingleton<IValidateOptions<AgentOsOptions>, AgentOsOptionsValidator>();
        silo.Services.AddSingleton<SoftwareInstaller>();
        silo.Services.AddSingleton<DiskReserve>();
        silo.AddIncomingGrainCallFilter<WireExceptionFilter>();
        silo.Services.AddSingleton<ServerShutdown>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ServerShutdown>());
        // The host waits for the orderly stop (AgentOs:ShutdownTimeout), then for Orleans' own deactivation.
        silo.Services.AddOptions<HostOptions>().Configure<IOptions<AgentOsOptions>>((host, agentOs) =>
        {
            try
            {
                host.ShutdownTimeout = agentOs.Value.ShutdownTimeout + TimeSpan.FromSeconds(30);
            }
            catch (Exception ex) when (ex is OptionsValidationException or InvalidOperationException)
            {
                // A bad value (or one the binder cannot convert): the start-up check names it and stops the server.
            }
        });
        silo.Services.AddSingleton<AgentTypeRegistry>();
        silo.Services.AddSingleton<AgentQuotas>();
        silo.Services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<AgentOsOptions>>().Value;
            return AgentCgroups.Detect(o.DataDirectoryFullPath, o.CgroupRoot, sp.GetRequiredService<ILoggerFactory>().CreateLogger("AgentOs.Limits"));
        });
        silo.Services.AddSingleton<AgentSandbox>(sp => SandboxSelector.Select(
            sp.GetRequiredService<IOptions<AgentOsOptions>>().Value, sp.GetRequiredService<ILoggerFactory>().CreateLogger("AgentOs.Sandbox")));
        silo.Services.AddHostedService<AgentOsStartup>();
        silo.Services.AddSingleton<SessionOptionsProtector>();

        // Session options (Env may hold API keys) are stored encrypted; keys live under <data>/keys.
        silo.Services.AddDataProtection().SetApplicationName("AgentOs");
        // Data Protection's hosted service loads (or creates) the key ring at start, pulling XML
        // and OpenSSL into every start and every idle server; without it the first session loads it.
        var eagerKeyRing = silo.Services.FirstOrDefault(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType?.Name == "DataProtectionHostedService");
        if (eagerKeyRing is not null)
        {
            silo.Services.Remove(eagerKeyRing);
        }

        silo.Services.AddOptions<KeyManagementOptions>().Configure<IOptions<AgentOsOptions>, ILoggerFactory>((keys, agentOs, loggers) =>
            keys.XmlRepository = new FileSystemXmlRepository(new DirectoryInfo(Path.Combine(agentOs.Value.DataDirectoryFullPath, "keys")), loggers));

        // Sleep: an idle VM grain deactivates after VmIdleTimeout.
        silo.Services.AddOptions<GrainCollectionOptions>().Configure<IOptions<AgentOsOptions>>((collection, agentOs) =>
        {
            var idle = agentOs.Value.VmIdleTimeout;
            collection.ClassSpecificCollectionAge[typeof(VmGrain).FullName!] = idle;
            if (collection.CollectionQuantum > idle / 2)
            {
                collection.CollectionQuantum = idle / 2;
            }
        });
        ByteSegmentCodec.Register(silo.Services); // stream batches cross as one block, not byte by byte
        silo.AddMemoryStreams(AgentOsNames.StreamProvider, streams =>
        {
            // Live latency: the pulling agent polls its queues on a timer (default 100 ms, which
            // every live event waited out, and the tail of every stream with it). 10 ms on 2 queues
            // keeps the idle cost at ~200 polls/s.
            streams.ConfigurePartitioning(2);
            // A subscriber that falls behind gets up to 16 queued batches per delivery call instead of
            // one round trip per batch (default 1).
            streams.ConfigurePullingAgent(agent => agent.Configure(o =>
            {
                o.GetQueueMsgsTimerPeriod = TimeSpan.FromMilliseconds(10);
                o.BatchContainerBatchSize = 16;
            }));
            // Delivered batches need not linger (default: at least 5 minutes): AgentOs never rewinds
            // a stream, history comes from SQLite.
            streams.ConfigureCacheEviction(cache => cache.Configure(o =>
            {
                o.DataMinTimeInCache = TimeSpan.Zero;
                o.DataMaxAgeInCache = TimeSpan.FromSeconds(30);
            }));
        });
        // A session's own subscribers are sent only the batches that hold its events.
        silo.AddStreamFilter<SessionStreamFilter>(AgentOsNames.StreamProvider);
        silo.AddMemoryGrainStorage("PubSubStore");
        return silo;
    }
}
