using AgentOs.Client;
using AgentOs.Hosting;

namespace AgentOs.Server.Tests.Infrastructure;

/// <summary>
/// A server (default configuration: bubblewrap, each VM's own network) whose built-in agent type
/// <see cref="AgentType"/> installs from npm on first use, into this fixture's data directory, and talks to a fake
/// LLM served by the tests on the host's loopback, reached through <c>AgentOs:SandboxAllowHostPorts</c> as a local
/// LLM gateway would be. No API key, no internet but the npm registry.
/// </summary>
public abstract class RealAgentFixture(string agentType) : ClusterFixture
{
    /// <summary>The built-in agent type this fixture's sessions run.</summary>
    public string AgentType { get; } = agentType;

    public FakeLlm Llm { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        Llm = await FakeLlm.StartAsync();
        await base.InitializeAsync();
    }

    protected override void Configure(AgentOsOptions options)
    {
        // An agent's own start takes seconds on a busy machine (OpenCode's 185 MB binary over 10 s on 2 loaded cores).
        options.InitializeTimeout = TimeSpan.FromSeconds(60);
        options.NewSessionTimeout = TimeSpan.FromSeconds(60);
        options.SandboxAllowHostPorts.Add(Llm.Port);
    }

    /// <summary>
    /// A session of <see cref="AgentType"/> in <paramref name="vm"/> (a new VM when null), the VM provisioned for the
    /// fake LLM as a user would (<see cref="FakeLlm.Provision"/>): its config in the home, its <c>Env</c> merged under
    /// <paramref name="options"/>' own.
    /// </summary>
    public async Task<SessionHandle> CreateSessionAsync(VmHandle? vm = null, CreateSessionOptions? options = null)
    {
        vm ??= NewVm();
        var env = new Dictionary<string, string>(Llm.Provision(AgentType, VmHome(vm.Id)));
        foreach (var (key, value) in options?.Env ?? new Dictionary<string, string>())
        {
            env[key] = value;
        }

        return await vm.CreateSessionAsync(AgentType, (options ?? new CreateSessionOptions()) with { Env = env });
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Llm.DisposeAsync();
    }
}
