using Orleans.Streams.Filtering;

namespace AgentOs.Events;

/// <summary>
/// Filters a VM's <see cref="AgentOsNames.SessionEventStream"/> on the silo, per subscription: a subscriber
/// that gave a session id as its filter data is sent only the batches holding an event of that session
/// (read from the encoded batch, nothing decoded); one that gave none gets every batch. The VM's events are
/// published once, whoever watches them (the stream, not the grain, knows the subscriptions, so a filtered
/// subscription survives the VM sleeping and waking like any other).
/// </summary>
internal sealed class SessionStreamFilter : IStreamFilter
{
    public bool ShouldDeliver(StreamId streamId, object item, string? filterData) =>
        string.IsNullOrEmpty(filterData) || item is not SessionEventBatch batch || batch.Holds(filterData);
}
