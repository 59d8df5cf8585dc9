using Orleans.Runtime;

namespace AgentOs.Server;

/// <summary>Knows when the silo is active, for <c>/healthz</c>.</summary>
internal sealed class ServerReadiness : ILifecycleParticipant<ISiloLifecycle>
{
    private volatile bool _siloActive;

    public bool IsReady => _siloActive;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ServerReadiness), ServiceLifecycleStage.Active,
            _ =>
            {
                _siloActive = true;
                return Task.CompletedTask;
            },
            _ =>
            {
                _siloActive = false;
                return Task.CompletedTask;
            });
}
