using Orleans.Streams;

namespace AgentOs.Events;

/// <summary>
/// Publishes a VM's committed batches on its <see cref="AgentOsNames.SessionEventStream"/> Orleans
/// stream, and each session's part of them on that session's <see cref="AgentOsNames.SessionStream"/>,
/// so a reader of one session receives only its events. Both are published unconditionally: a
/// stream exists apart from the grain activation, so a subscription made while the VM slept, or
/// before it last woke, gets every later batch without the grain knowing of it. A batch of one
/// session (the common case) is the same object on both streams; a mixed one is sliced by bytes
/// (<see cref="SessionEventBatch.SplitBySession"/>). The streams are published at once, not one
/// after the other, so the second publish adds no round trip to the pipeline's writer loop.
/// </summary>
internal sealed class StreamPublisher(IStreamProvider streams, string vmId) : IEventPublisher
{
    private readonly IAsyncStream<SessionEventBatch> _vm = streams.GetStream<SessionEventBatch>(StreamId.Create(AgentOsNames.SessionEventStream, vmId));

    /// <summary>Session streams by session id; a VM has a handful of sessions, and this lives as long as its activation.</summary>
    private readonly Dictionary<string, IAsyncStream<SessionEventBatch>> _sessions = new(StringComparer.Ordinal);

    /// <summary>The batch a failed publish left half-done, and which of its items went out: a retry must not deliver one twice.</summary>
    private SessionEventBatch? _retrying;
    private bool[] _published = [];

    /// <summary>Called by the pipeline's single writer loop only, one batch at a time; throws when any stream refused its item.</summary>
    public async Task PublishAsync(SessionEventBatch batch)
    {
        var items = new List<(IAsyncStream<SessionEventBatch> Stream, SessionEventBatch Item)> { (_vm, batch) };
        foreach (var (sessionId, part) in batch.SplitBySession())
        {
            items.Add((SessionStream(sessionId), part));
        }

        if (!ReferenceEquals(batch, _retrying) || _published.Length != items.Count)
        {
            _retrying = batch;
            _published = new bool[items.Count];
        }

        var sends = new List<Task>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            if (!_published[i])
            {
                sends.Add(SendAsync(items[i].Stream, items[i].Item, i));
            }
        }

        await Task.WhenAll(sends).ConfigureAwait(false);
        _retrying = null;
    }

    private async Task SendAsync(IAsyncStream<SessionEventBatch> stream, SessionEventBatch item, int index)
    {
        await stream.OnNextAsync(item).ConfigureAwait(false);
        _published[index] = true;
    }

    private IAsyncStream<SessionEventBatch> SessionStream(string sessionId)
    {
        if (!_sessions.TryGetValue(sessionId, out var stream))
        {
            stream = streams.GetStream<SessionEventBatch>(StreamId.Create(AgentOsNames.SessionStream, AgentOsNames.SessionStreamKey(vmId, sessionId)));
            _sessions[sessionId] = stream;
        }

        return stream;
    }
}
