using Orleans.Streams;

namespace AgentOs.Events;

/// <summary>
/// Publishes a VM's committed batches, once each, on its <see cref="AgentOsNames.SessionEventStream"/>
/// Orleans stream. Subscribers to one session are served from the same stream by <see cref="SessionStreamFilter"/>.
/// </summary>
internal sealed class StreamPublisher(IStreamProvider streams, string vmId) : IEventPublisher
{
    private readonly IAsyncStream<SessionEventBatch> _vm = streams.GetStream<SessionEventBatch>(StreamId.Create(AgentOsNames.SessionEventStream, vmId));

    public Task PublishAsync(SessionEventBatch batch) => _vm.OnNextAsync(batch);
}
