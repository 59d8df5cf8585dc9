using Orleans.Streams;

namespace AgentOs.Events;

/// <summary>
/// Publishes a VM's committed batches on its <see cref="AgentOsNames.SessionEventStream"/> Orleans
/// stream, and each session's part of them on that session's <see cref="AgentOsNames.SessionStream"/>,
/// so a reader of one session receives only its events. Both are published unconditionally: a
/// stream exists apart from the grain activation, so a subscription made while the VM slept, or
/// before it last woke, gets every later batch without the grain knowing of it.
/// </summary>
internal sealed class StreamPublisher(IStreamProvider streams, string vmId) : IEventPublisher
{
    private readonly IAsyncStream<SessionEventBatch> _vm = streams.GetStream<SessionEventBatch>(StreamId.Create(AgentOsNames.SessionEventStream, vmId));

    /// <summary>Session streams by session id; a VM has a handful of sessions, and this lives as long as its activation.</summary>
    private readonly Dictionary<string, IAsyncStream<SessionEventBatch>> _sessions = new(StringComparer.Ordinal);

    /// <summary>The batch a failed publish left half-done, and how far it got: a retry must not deliver a part twice.</summary>
    private SessionEventBatch? _retrying;
    private int _published;

    /// <summary>Called by the pipeline's single writer loop only, one batch at a time.</summary>
    public async Task PublishAsync(SessionEventBatch batch)
    {
        var done = ReferenceEquals(batch, _retrying) ? _published : 0;
        _retrying = batch;
        _published = done;
        if (done == 0)
        {
            await _vm.OnNextAsync(batch).ConfigureAwait(false);
            _published = done = 1;
        }

        var parts = batch.SplitBySession();
        for (var i = done - 1; i < parts.Count; i++)
        {
            var (sessionId, part) = parts[i];
            await SessionStream(sessionId).OnNextAsync(part).ConfigureAwait(false);
            _published = i + 2;
        }

        _retrying = null;
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
