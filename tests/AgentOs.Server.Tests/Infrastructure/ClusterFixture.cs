using System.Collections.Concurrent;
using AgentOs.Client;
using AgentOs.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AgentOs.Server.Tests.Infrastructure;

/// <summary>
/// A real Orleans silo with AgentOs in the test process, on its own loopback ports and cluster id,
/// and the client SDK connected to it through the gateway (so every call crosses the wire).
/// </summary>
public class ClusterFixture : IAsyncLifetime
{
    private readonly TempDirectory _data = new("agentos-grains");
    private readonly TempDirectory _exposed = new("agentos-exposed");
    private IHost? _silo;

    /// <summary>A small prompt queue bound (the default is 16), so the bound is quick to reach.</summary>
    public const int MaxQueuedPrompts = 3;

    /// <summary>A short cancel grace period (the default is 5 s), so agents that ignore session/cancel are dealt with quickly.</summary>
    public static readonly TimeSpan CancelGracePeriod = TimeSpan.FromSeconds(2);

    public AgentOsClient Client { get; private set; } = null!;

    public string DataDirectory => _data.Path;

    /// <summary>A host folder (outside the data directory) that agents of type <see cref="TestAgents.ExposesHostFolder"/> see read-only.</summary>
    public string ExposedFolder => _exposed.Path;

    /// <summary>Every stderr chunk of every agent (OnAgentStderr).</summary>
    public ConcurrentQueue<AgentStderrChunk> Stderr { get; } = new();

    /// <summary>Extra server options of a derived fixture.</summary>
    protected virtual void Configure(AgentOsOptions options)
    {
    }

    public virtual async Task InitializeAsync()
    {
        var ports = FreePorts.Take(2);
        var clusterId = "test-" + Guid.NewGuid().ToString("N")[..8];
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(ports[0], ports[1], serviceId: clusterId, clusterId: clusterId);
            silo.UseAgentOs(configure: o =>
            {
                o.DataDirectory = _data.Path;
                o.Agents = TestAgents.All();
                o.NewSessionTimeout = TimeSpan.FromSeconds(3);
                o.MaxQueuedPrompts = ClusterFixture.MaxQueuedPrompts;
                o.CancelGracePeriod = ClusterFixture.CancelGracePeriod;
                o.OnAgentStderr = Stderr.Enqueue;
                var exposing = TestAgents.Make();
                exposing.ReadOnlyPaths.Add(_data.Path);
                o.Agents[TestAgents.ExposesDataDirectory] = exposing;
                var sharing = TestAgents.Make();
                sharing.ReadOnlyPaths.Add(_exposed.Path);
                o.Agents[TestAgents.ExposesHostFolder] = sharing;
                Configure(o);
            });
        });
        _silo = builder.Build();
        await _silo.StartAsync();
        Client = await AgentOsClient.ConnectAsync(new AgentOsClientOptions { GatewayPort = ports[1], ClusterId = clusterId, ServiceId = clusterId });
    }

    /// <summary>A VM no other test uses.</summary>
    public VmHandle NewVm() => Client.Vm("vm-" + Guid.NewGuid().ToString("N")[..12]);

    public string VmHome(string vmId) => Path.Combine(_data.Path, "vms", vmId, "home");

    public virtual async Task DisposeAsync()
    {
        if (Client is not null)
        {
            await Client.DisposeAsync();
        }

        if (_silo is not null)
        {
            await _silo.StopAsync();
            _silo.Dispose();
        }

        _data.Dispose();
        _exposed.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
