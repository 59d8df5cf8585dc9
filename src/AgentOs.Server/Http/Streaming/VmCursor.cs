using System.Globalization;
using System.Text;

namespace AgentOs.Server.Http.Streaming;

/// <summary>
/// Where a client of a VM's event stream is: the stream's origin and, for each session the stream has delivered an
/// event of, the last seq delivered. It is the <c>id:</c> of every event of the VM stream and what <c>Last-Event-ID</c>
/// (or <c>?since=</c>) hands back: <c>&lt;originMs&gt;,&lt;sessionId&gt;:&lt;seq&gt;,…</c>. On resume, a listed
/// session continues after its seq; a session not listed (nothing of it delivered yet) is delivered from its first event
/// created at or after the origin. So every event committed since the origin reaches the client exactly once, in seq
/// order per session, with no gap, however often it reconnects. The origin is the first connection's time less one second
/// (an event is stamped just before its commit), or 0 with <c>?since=0</c>: every event of every session.
/// </summary>
internal sealed class VmCursor
{
    /// <summary>Ids are hex (32 characters); a bound keeps a forged cursor from costing anything.</summary>
    private const int MaxSessionIdLength = 64;

    private readonly List<Entry> _entries = [];
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private int _lastUsed = -1;

    public VmCursor(long originUnixMs) => OriginUnixMs = originUnixMs;

    public long OriginUnixMs { get; }

    /// <summary>Sessions delivered so far, with their last seq.</summary>
    public IEnumerable<string> SessionIds => _entries.Select(e => e.Id);

    public bool TryGet(string sessionId, out long last)
    {
        var found = _index.TryGetValue(sessionId, out var at);
        last = found ? _entries[at].Seq : 0;
        return found;
    }

    public void Set(string sessionId, long seq)
    {
        if (_index.TryGetValue(sessionId, out var at))
        {
            _entries[at].Seq = seq;
            return;
        }

        _index[sessionId] = _entries.Count;
        _entries.Add(new Entry(sessionId, Encoding.UTF8.GetBytes(sessionId)) { Seq = seq });
    }

    /// <summary><see cref="Set(string, long)"/> for an event as it lies encoded: no string made for a session seen before.</summary>
    public void Set(ReadOnlySpan<byte> sessionIdUtf8, long seq)
    {
        if (_lastUsed >= 0 && _entries[_lastUsed].Utf8.AsSpan().SequenceEqual(sessionIdUtf8))
        {
            _entries[_lastUsed].Seq = seq;
            return;
        }

        for (var i = 0; i < _entries.Count; i++)
        {
            if (_entries[i].Utf8.AsSpan().SequenceEqual(sessionIdUtf8))
            {
                _entries[i].Seq = seq;
                _lastUsed = i;
                return;
            }
        }

        Set(Encoding.UTF8.GetString(sessionIdUtf8), seq);
        _lastUsed = _entries.Count - 1;
    }

    public void Remove(string sessionId)
    {
        if (_index.Remove(sessionId, out var at))
        {
            _entries.RemoveAt(at);
            _lastUsed = -1;
            for (var i = at; i < _entries.Count; i++)
            {
                _index[_entries[i].Id] = i;
            }
        }
    }

    public VmCursor Clone()
    {
        var copy = new VmCursor(OriginUnixMs);
        foreach (var entry in _entries)
        {
            copy.Set(entry.Id, entry.Seq);
        }

        return copy;
    }

    /// <summary>
    /// The cursor a request names: its <c>Last-Event-ID</c> (a reconnecting EventSource sends it), else <c>?since=</c>;
    /// <c>0</c> for everything; neither: from now. <see cref="AgentOsErrorCode.InvalidArgument"/> for a malformed one.
    /// </summary>
    public static VmCursor Parse(string? text, TimeProvider time)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return new VmCursor(time.GetUtcNow().ToUnixTimeMilliseconds() - 1000);
        }

        var parts = text.Split(',');
        if (!long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var origin))
        {
            throw Malformed(text);
        }

        var cursor = new VmCursor(origin);
        foreach (var part in parts.Skip(1))
        {
            var colon = part.LastIndexOf(':');
            if (colon <= 0 || colon > MaxSessionIdLength || !long.TryParse(part.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
            {
                throw Malformed(text);
            }

            cursor.Set(part[..colon], seq);
        }

        return cursor;
    }

    private static AgentOsException Malformed(string text) => new(AgentOsErrorCode.InvalidArgument,
        $"The VM event stream cursor '{(text.Length > 80 ? text[..80] + "…" : text)}' is not one this server wrote: send back an event's id as it came (Last-Event-ID), 0 for every event, or nothing for events from now on.");

    public void WriteTo(EventJsonWriter writer)
    {
        writer.Number(OriginUnixMs);
        foreach (var entry in _entries)
        {
            writer.Raw(","u8);
            writer.Raw(entry.Utf8);
            writer.Raw(":"u8);
            writer.Number(entry.Seq);
        }
    }

    public override string ToString() =>
        string.Join(',', _entries.Select(e => $"{e.Id}:{e.Seq.ToString(CultureInfo.InvariantCulture)}").Prepend(OriginUnixMs.ToString(CultureInfo.InvariantCulture)));

    private sealed class Entry(string id, byte[] utf8)
    {
        public string Id { get; } = id;

        public byte[] Utf8 { get; } = utf8;

        public long Seq { get; set; }
    }
}
