using Orleans.Streams;

namespace AgentOs.Events;

/// <summary>Publishes a VM's committed batches on its <see cref="AgentOsNames.SessionEventStream"/> Orleans stream.</summary>
internal sealed class StreamPublisher(IStreamProvider streams, string vmId) : IEventPublisher
{
    private readonly IAsyncStream<SessionEventBatch> _vm = streams.GetStream<SessionEventBatch>(StreamId.Create(AgentOsNames.SessionEventStream, vmId));

    public Task PublishAsync(SessionEventBatch batch) => _vm.OnNextAsync(batch);
}
