using System.Text;

namespace AgentOs;

/// <summary>
/// One ACP message of a session, persisted before anyone sees it. <see cref="Seq"/> is 1, 2, 3, …
/// per session: gapless, no duplicates, never reused. <see cref="Method"/> is the ACP method
/// (<c>session/update</c>, <c>session/request_permission</c>, …) or an AgentOs extension
/// (<c>_agentos/prompt</c>, <c>_agentos/turn_end</c>, …); <see cref="Params"/> is its JSON.
/// </summary>
[GenerateSerializer, Immutable, Alias("AgentOs.SessionEvent")]
public sealed record SessionEvent(
    [property: Id(0)] string SessionId,
    [property: Id(1)] long Seq,
    [property: Id(2)] DateTimeOffset CreatedAt,
    [property: Id(3)] string Method,
    [property: Id(4)] string Params);

/// <summary>
/// Events committed together, published as one stream item (in seq order per session); also what
/// a history read (<see cref="IVmGrain.GetSequencedEvents"/>) returns. It travels as compact
/// byte blocks (<see cref="SessionEventCodec"/>) and is decoded into <see cref="Events"/> when first
/// read: the silo's stream pulling agent deserializes every batch it delivers (for its request
/// context) and must not pay for decoding events only the subscriber reads. The client SDK decodes
/// history reads before it returns them.
/// </summary>
[GenerateSerializer, Immutable, Alias("AgentOs.SessionEventBatch")]
public sealed class SessionEventBatch : IReadOnlyList<SessionEvent>
{
    /// <summary>The encoded events: chunks of at most ~64 KiB (see <see cref="SessionEventCodec"/>).</summary>
    [Id(0)]
    private readonly byte[][] _chunks;

    [Id(1)]
    private readonly int _count;

    [NonSerialized]
    private SessionEvent[]? _events;

    /// <summary>A batch of <paramref name="events"/>.</summary>
    public SessionEventBatch(SessionEvent[] events)
    {
        ArgumentNullException.ThrowIfNull(events);
        _chunks = SessionEventCodec.EncodeChunks(events);
        _events = events;
        _count = events.Length;
    }

    /// <summary>A batch of events already encoded by <see cref="SessionEventCodec.Writer"/>.</summary>
    internal SessionEventBatch(byte[][] chunks)
    {
        _chunks = chunks;
        _count = chunks.Sum(c => SessionEventCodec.Count(c));
    }

    /// <summary>Whether any event of this batch belongs to <paramref name="sessionId"/>; nothing is decoded.</summary>
    internal bool Holds(string sessionId)
    {
        Span<byte> utf8 = stackalloc byte[Encoding.UTF8.GetMaxByteCount(sessionId.Length)];
        return SessionEventCodec.Holds(_chunks, utf8[..Encoding.UTF8.GetBytes(sessionId, utf8)]);
    }

    /// <summary>
    /// This batch's events of <paramref name="sessionId"/>, sliced by bytes without decoding any (the batch itself
    /// when it holds no other session's; see <see cref="SessionEventCodec.Slice"/>).
    /// </summary>
    internal SessionEventBatch Of(string sessionId)
    {
        var slice = SessionEventCodec.Slice(_chunks, Encoding.UTF8.GetBytes(sessionId));
        return ReferenceEquals(slice, _chunks) ? this : new SessionEventBatch(slice);
    }

    /// <summary>The encoded events, for readers that write them on without decoding (<see cref="SessionEventCodec.RawReader"/>).</summary>
    internal byte[][] Chunks => _chunks;

    /// <summary>This batch's events with seq &gt; <paramref name="afterSeq"/> (the batch itself when all are); for one session's batch.</summary>
    internal SessionEventBatch After(long afterSeq)
    {
        var slice = SessionEventCodec.SliceAfter(_chunks, afterSeq);
        return ReferenceEquals(slice, _chunks) ? this : new SessionEventBatch(slice);
    }

    /// <summary>Several batches of one session as one, in order; no event is copied.</summary>
    internal static SessionEventBatch Concat(IReadOnlyList<SessionEventBatch> batches) =>
        batches.Count == 1 ? batches[0] : new SessionEventBatch(batches.SelectMany(b => b._chunks).ToArray());

    /// <summary>
    /// A history page (<see cref="IVmGrain.GetSequencedEvents"/>) stops taking events once their params reach this many
    /// bytes (with one event at least): with <c>AgentOs:MaxEventBytes</c> bounding each event, a page stays far below
    /// Orleans' message limit however large the transcript.
    /// </summary>
    public const int MaxPageBytes = 4 * 1024 * 1024;

    /// <summary>The size of the encoded events, in bytes.</summary>
    public long EncodedBytes => _chunks.Sum(c => (long)c.Length);

    /// <summary>
    /// Whether a history page asked for <paramref name="limit"/> events may have stopped before the end: it holds that
    /// many, or it reached <see cref="MaxPageBytes"/>. A page that is not full is the end of the transcript for now.
    /// </summary>
    public static bool IsFullPage(IReadOnlyList<SessionEvent> page, int limit) =>
        page.Count >= limit || (page is SessionEventBatch batch ? batch.EncodedBytes >= MaxPageBytes : page.Sum(e => (long)e.Params.Length) >= MaxPageBytes / 4);

    /// <summary>The events, in the order they were committed.</summary>
    public SessionEvent[] Events => _events ??= SessionEventCodec.Decode(_chunks, _count);

    /// <summary>The number of events.</summary>
    public int Count => _count;

    /// <inheritdoc />
    public SessionEvent this[int index] => Events[index];

    /// <inheritdoc />
    public IEnumerator<SessionEvent> GetEnumerator() => ((IEnumerable<SessionEvent>)Events).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>AgentOs' own transcript entries, for what ACP has no message for.</summary>
public static class AgentOsEventMethods
{
    /// <summary>
    /// A turn starts with the user's prompt: <c>{ "sessionId", "prompt": [ContentBlock] }</c>, the ACP
    /// <c>session/prompt</c> params as sent to the agent (<c>sessionId</c> is the agent's own ACP session id).
    /// </summary>
    public const string Prompt = "_agentos/prompt";

    /// <summary>
    /// A prompt arrived while another turn of the session was running and waits in its queue:
    /// <c>{ "position": n, "prompt": [ContentBlock] }</c>, <c>position</c> 1 being the next to run.
    /// Its <see cref="Prompt"/> event marks when it starts.
    /// </summary>
    public const string PromptQueued = "_agentos/prompt_queued";

    /// <summary>
    /// A turn ended: <c>{ "stopReason": "...", "error"?: "...", "code"?: "...", "forced"?: true, "graceMs"?: n, "reason"?: "...", "usage"?: { … } }</c>.
    /// <c>usage</c>: the turn's tokens as the agent reported them (ACP <c>Usage</c>: <c>inputTokens</c>, <c>outputTokens</c>, <c>totalTokens</c>, …).
    /// <c>reason</c> says why AgentOs cancelled it, when it did: <c>server_shutdown</c> (SIGTERM; the session is then suspended).
    /// <c>forced</c>: the agent did not end the turn within the cancel grace period (<c>graceMs</c>) after
    /// <c>session/cancel</c>, so AgentOs ended it with stop reason <c>cancelled</c>; the agent's own late answer
    /// is then not recorded as a second turn end, and what it still sends comes after this event.
    /// </summary>
    public const string TurnEnd = "_agentos/turn_end";

    /// <summary>
    /// AgentOs is restarting the session's agent: <c>{ "reason": "cancel_ignored", "pid": n }</c>. The agent had not
    /// ended a cancelled turn a second grace period after the forced turn end; it is stopped (its
    /// <see cref="AgentExit"/> follows) and the session restored as by a resume (<see cref="AgentStart"/>, <see cref="Resume"/>).
    /// </summary>
    public const string AgentRestart = "_agentos/agent_restart";

    /// <summary>
    /// The agent process started: <c>{ "agentType", "pid", "command", "sandbox", "cwd", "instructionsChars" }</c>.
    /// <c>sandbox</c> is <c>bubblewrap</c> or <c>none</c>, <c>cwd</c> the working directory as the agent sees it,
    /// <c>instructionsChars</c> the length of the instructions it was given (0: none).
    /// </summary>
    public const string AgentStart = "_agentos/agent_start";

    /// <summary>The agent process exited: <c>{ "exitCode", "signal"?, "reason"?, "limit"?, "stderrTail", "expected" }</c>. <c>reason</c> says why it ended, when AgentOs knows: <c>storage_unavailable</c> (its events could not be stored, see <see cref="EventsLost"/>), <c>memory_limit</c> (the kernel's OOM killer at its memory limit, <c>limit</c> bytes), <c>disk_quota</c> (stopped when its VM's home passed the VM's disk quota, <c>limit</c> bytes).</summary>
    public const string AgentExit = "_agentos/agent_exit";

    /// <summary>The ACP session of a new session was set up: <c>{ "acpSessionId", "restore": "new", "agentInfo" }</c>.</summary>
    public const string SessionStart = "_agentos/session_start";

    /// <summary>
    /// A suspended session was restored: <c>{ "acpSessionId", "restore": "load" | "resume" | "context",
    /// "replayedNotifications", "contextChars", "agentInfo" }</c>.
    /// </summary>
    public const string Resume = "_agentos/resume";

    /// <summary>The agent wrote a line that is not ACP JSON: <c>{ "reason", "preview", "count" }</c> (first 20 per session).</summary>
    public const string MalformedOutput = "_agentos/malformed_output";

    /// <summary>
    /// An answer AgentOs gave to an agent-to-client request: <c>{ "requestSeq", "requestId", "method", "result" | "error", "reason"? }</c>.
    /// <c>requestSeq</c> is the seq of the request's event, <c>requestId</c> its JSON-RPC id. For
    /// <c>session/request_permission</c> and <c>elicitation/create</c>, <c>reason</c> says who decided: <c>policy</c> (AllowAll or
    /// RejectAll: a permission allowed or rejected, an elicitation declined), <c>client</c> (<see cref="IVmGrain.RespondPermission"/>,
    /// <see cref="IVmGrain.RespondElicitation"/>), <c>timeout</c> (nobody answered in time: rejected, or an elicitation cancelled),
    /// <c>turn_cancelled</c> (<see cref="IVmGrain.CancelPrompt"/>: outcome cancelled), <c>session_stopped</c>
    /// (closed, destroyed or put to sleep: outcome cancelled) or <c>agent_exited</c>. For <c>fs/read_text_file</c>,
    /// <c>result.content</c> is the file's first 64 KiB when it is larger, with <c>contentBytes</c>, <c>contentSha256</c>
    /// and <c>contentTruncated: true</c> (the agent itself got the whole file); an <c>fs/write_text_file</c> request
    /// event is bounded the same way. For <c>terminal/output</c>, <c>result.output</c> is the output's last 64 KiB when it is
    /// larger, with <c>outputBytes</c>, <c>outputSha256</c> and <c>outputTruncated: true</c>.
    /// </summary>
    public const string ClientResponse = "_agentos/client_response";

    /// <summary>
    /// Events of the session could not be stored: <c>{ "count": n, "firstLostAtMs": t, "reason": "..." }</c>. The VM's
    /// database refused them for longer than <c>AgentOs:StorageRetryTimeout</c> (locked by another process, disk full,
    /// I/O error). They were never published to anyone and their seqs were not kept, so seq stays gapless; this marker
    /// takes the seq after the last stored event, recorded as soon as storage works again. The turn that lost them
    /// failed with <see cref="AgentOsErrorCode.StorageUnavailable"/> and the agent was stopped; the session can be resumed.
    /// </summary>
    public const string EventsLost = "_agentos/events_lost";

    /// <summary>
    /// In place of an agent's message larger than <c>AgentOs:MaxEventBytes</c> (1 MiB by default):
    /// <c>{ "method", "bytes", "sha256", "limit", "preview" }</c>, the message's method, its params' size in bytes and
    /// SHA-256 (hex), the limit, and the params' first 64 KiB as text (not valid JSON on its own). The agent got its
    /// answer as usual and the turn went on; the limit keeps every transcript readable.
    /// </summary>
    public const string Truncated = "_agentos/truncated";

    /// <summary>
    /// A terminal's command ended: <c>{ "terminalId", "exitCode"?, "signal"?, "reason", "output", "outputBytes"?, "outputSha256"?,
    /// "outputTruncated"?, "truncated", "bytesWritten" }</c>. <c>terminalId</c> is the id AgentOs gave it in answer to
    /// <c>terminal/create</c> (that request and its answer are the terminal's start); <c>exitCode</c> when it exited,
    /// <c>signal</c> (<c>SIGKILL</c>) when AgentOs killed it; <c>reason</c>: <c>exited</c> (by itself), <c>killed</c>
    /// (<c>terminal/kill</c>), <c>released</c> (<c>terminal/release</c> while it ran), <c>session_stopped</c> (closed, destroyed or
    /// put to sleep) or <c>agent_exited</c>. <c>output</c> is what the terminal kept (as the agent would read it with
    /// <c>terminal/output</c>), its last 64 KiB when larger (then <c>outputBytes</c>, <c>outputSha256</c> and
    /// <c>outputTruncated: true</c>); <c>truncated</c>: the terminal itself dropped the start of its output at its byte limit;
    /// <c>bytesWritten</c>: every byte the command wrote.
    /// </summary>
    public const string TerminalExit = "_agentos/terminal_exit";

    /// <summary>
    /// The agent met one of its resource limits during a turn without dying of it: <c>{ "limit", "max", "count" }</c>,
    /// <c>limit</c> being <c>processes</c> (<c>count</c> forks refused at <c>pids.max</c> = <c>max</c>), <c>memory</c>
    /// (<c>count</c> of its processes the OOM killer took at <c>max</c> bytes), both recorded when the turn ends, or
    /// <c>disk</c> (the VM's home took <c>count</c> bytes, past its quota of <c>max</c>; recorded as the agent is stopped).
    /// </summary>
    public const string Limit = "_agentos/limit";
}
