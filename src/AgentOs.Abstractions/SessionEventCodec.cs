using System.Buffers.Binary;
using System.Text;

namespace AgentOs;

/// <summary>
/// The compact binary form of a run of <see cref="SessionEvent"/>s: what a
/// <see cref="SessionEventBatch"/> carries over the wire, for live batches and history reads alike.
/// One byte block instead of records of strings means the serializer copies it in one piece, and
/// the server never turns an agent's UTF-8 JSON into UTF-16 strings: only the receiver decodes.
/// </summary>
/// <remarks>
/// A batch is one or more chunks, each a self-contained payload below ~64 KiB (unless one event
/// is larger): arrays that size stay off the large object heap, whose allocations forced a full
/// (gen 2) collection every few replays on both ends. Layout of a chunk (little-endian): version byte <c>1</c>, int32 count, then per event: a flags byte
/// (<c>1</c>: same session id as the previous event, <c>2</c>: same method), the session id
/// (int32 length + UTF-8) unless flagged, int64 seq, int64 created-at (Unix ms), the method
/// (length + UTF-8) unless flagged, the params (length + UTF-8 JSON).
/// </remarks>
internal static class SessionEventCodec
{
    public const byte Version = 1;
    public const int HeaderSize = 5;
    private const byte SameSession = 1;
    private const byte SameMethod = 2;

    /// <summary>Methods decoded to one shared string instead of a new one per event.</summary>
    private static readonly (byte[] Utf8, string Text)[] KnownMethods = new[]
    {
        "session/update", "session/request_permission", "fs/read_text_file", "fs/write_text_file",
        AgentOsEventMethods.Prompt, AgentOsEventMethods.PromptQueued, AgentOsEventMethods.TurnEnd, AgentOsEventMethods.AgentRestart,
        AgentOsEventMethods.AgentStart, AgentOsEventMethods.AgentExit, AgentOsEventMethods.SessionStart, AgentOsEventMethods.Resume,
        AgentOsEventMethods.MalformedOutput, AgentOsEventMethods.ClientResponse,
    }.Select(m => (Encoding.UTF8.GetBytes(m), m)).ToArray();

    /// <summary>Most bytes a chunk grows to before the next event starts a new one.</summary>
    public const int ChunkSize = 64 * 1024;

    /// <summary>Encodes <paramref name="events"/> as one payload.</summary>
    public static byte[] Encode(IReadOnlyList<SessionEvent> events) => Fill(new Writer(), events).ToArray();

    /// <summary>Encodes <paramref name="events"/> as chunks of about <see cref="ChunkSize"/> bytes.</summary>
    public static byte[][] EncodeChunks(IReadOnlyList<SessionEvent> events) => Fill(new Writer(chunkSize: ChunkSize), events).ToChunks();

    private static Writer Fill(Writer writer, IReadOnlyList<SessionEvent> events)
    {
        foreach (var e in events)
        {
            writer.Add(e.SessionId, e.Seq, e.CreatedAt.ToUnixTimeMilliseconds(), e.Method, Encoding.UTF8.GetBytes(e.Params));
        }

        return writer;
    }

    /// <summary>Decodes every chunk, in order, into one array of <paramref name="count"/> events.</summary>
    public static SessionEvent[] Decode(byte[][] chunks, int count)
    {
        if (chunks.Length == 1)
        {
            var single = Decode(chunks[0]);
            return single.Length == count ? single : throw Malformed("event count does not match the chunks");
        }

        var events = new SessionEvent[count];
        var at = 0;
        foreach (var chunk in chunks)
        {
            var n = Count(chunk);
            if (n > count - at)
            {
                throw Malformed("event count does not match the chunks");
            }

            DecodeInto(chunk, events.AsSpan(at, n));
            at += n;
        }

        return at == count ? events : throw Malformed("event count does not match the chunks");
    }

    /// <summary>The number of events in <paramref name="payload"/>, from its header.</summary>
    public static int Count(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < HeaderSize || payload[0] != Version)
        {
            throw Malformed("bad header");
        }

        var count = BinaryPrimitives.ReadInt32LittleEndian(payload[1..]);
        return count >= 0 ? count : throw Malformed("negative count");
    }

    /// <summary>Decodes a payload made by <see cref="Writer"/>. Throws <see cref="InvalidDataException"/> when it is malformed.</summary>
    public static SessionEvent[] Decode(ReadOnlySpan<byte> payload)
    {
        var count = Count(payload);
        // Every event takes at least 1 + 8 + 8 + 4 bytes: a count beyond that is a lie, not an allocation to make.
        if (count > (payload.Length - HeaderSize) / 21)
        {
            throw Malformed("count larger than the payload");
        }

        var events = new SessionEvent[count];
        DecodeInto(payload, events);
        return events;
    }

    /// <summary>Decodes one payload whose header counts exactly <c>events.Length</c> events.</summary>
    private static void DecodeInto(ReadOnlySpan<byte> payload, Span<SessionEvent> events)
    {
        var count = events.Length;
        if (count > (payload.Length - HeaderSize) / 21)
        {
            throw Malformed("count larger than the payload");
        }

        var position = HeaderSize;
        string? sessionId = null;
        string? method = null;
        for (var i = 0; i < count; i++)
        {
            var flags = ReadByte(payload, ref position);
            if ((flags & SameSession) == 0)
            {
                sessionId = Encoding.UTF8.GetString(ReadBlock(payload, ref position));
            }
            else if (sessionId is null)
            {
                throw Malformed("first event refers to a previous session id");
            }

            var seq = ReadInt64(payload, ref position);
            var created = ReadInt64(payload, ref position);
            if ((flags & SameMethod) == 0)
            {
                method = DecodeMethod(ReadBlock(payload, ref position));
            }
            else if (method is null)
            {
                throw Malformed("first event refers to a previous method");
            }

            var parameters = Encoding.UTF8.GetString(ReadBlock(payload, ref position));
            DateTimeOffset createdAt;
            try
            {
                createdAt = DateTimeOffset.FromUnixTimeMilliseconds(created);
            }
            catch (ArgumentOutOfRangeException)
            {
                throw Malformed("timestamp out of range");
            }

            events[i] = new SessionEvent(sessionId, seq, createdAt, method, parameters);
        }

        if (position != payload.Length)
        {
            throw Malformed("trailing bytes");
        }
    }

    private static string DecodeMethod(ReadOnlySpan<byte> utf8)
    {
        foreach (var (bytes, text) in KnownMethods)
        {
            if (utf8.SequenceEqual(bytes))
            {
                return text;
            }
        }

        return Encoding.UTF8.GetString(utf8);
    }

    private static byte ReadByte(ReadOnlySpan<byte> payload, ref int position)
    {
        if (position >= payload.Length)
        {
            throw Malformed("truncated");
        }

        return payload[position++];
    }

    private static long ReadInt64(ReadOnlySpan<byte> payload, ref int position)
    {
        if (payload.Length - position < 8)
        {
            throw Malformed("truncated");
        }

        var value = BinaryPrimitives.ReadInt64LittleEndian(payload[position..]);
        position += 8;
        return value;
    }

    private static ReadOnlySpan<byte> ReadBlock(ReadOnlySpan<byte> payload, ref int position)
    {
        if (payload.Length - position < 4)
        {
            throw Malformed("truncated");
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(payload[position..]);
        position += 4;
        if (length < 0 || length > payload.Length - position)
        {
            throw Malformed("bad length");
        }

        var block = payload.Slice(position, length);
        position += length;
        return block;
    }

    /// <summary>Whether any event of <paramref name="chunks"/> belongs to the session <paramref name="sessionIdUtf8"/>; nothing is decoded.</summary>
    public static bool Holds(byte[][] chunks, ReadOnlySpan<byte> sessionIdUtf8)
    {
        foreach (var chunk in chunks)
        {
            var events = new EventWalker(chunk);
            while (events.Next(out var e))
            {
                if (e.SessionLength >= 0 && chunk.AsSpan(e.SessionAt, e.SessionLength).SequenceEqual(sessionIdUtf8))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// The events of <paramref name="chunks"/> that belong to the session <paramref name="sessionIdUtf8"/>, as chunks
    /// of their own, in order. No event is decoded: when every event is the session's (the common case: one agent
    /// streaming) the same array comes back; otherwise its events are copied byte for byte into one chunk per
    /// source chunk that has any, the only change being that the first event of each of its runs spells out its
    /// method when it referred to the previous event's (which belonged to another session). Its session id is
    /// always spelled out already: a run of one session starts with it.
    /// </summary>
    public static byte[][] Slice(byte[][] chunks, ReadOnlySpan<byte> sessionIdUtf8)
    {
        if (OnlySession(chunks, sessionIdUtf8))
        {
            return chunks;
        }

        var parts = new List<byte[]>(chunks.Length);
        var writer = new SliceWriter();
        foreach (var chunk in chunks)
        {
            var events = new EventWalker(chunk);
            var mine = false;
            while (events.Next(out var e))
            {
                var runStart = e.SessionLength >= 0;
                if (runStart)
                {
                    mine = chunk.AsSpan(e.SessionAt, e.SessionLength).SequenceEqual(sessionIdUtf8);
                }

                if (mine)
                {
                    writer.Add(chunk, e, spellOutMethod: runStart && (e.Flags & SameMethod) != 0);
                }
            }

            if (writer.Count > 0)
            {
                parts.Add(writer.ToArrayAndReset());
            }
        }

        return [.. parts];
    }

    /// <summary>
    /// The first and last seq of one session's <paramref name="chunks"/>, read without decoding; checks that they run
    /// gapless from <paramref name="expectedFirst"/> when it is given (throws <see cref="InvalidOperationException"/>
    /// naming the seq found otherwise). (0, 0) when there is no event.
    /// </summary>
    public static (long First, long Last) SeqRange(byte[][] chunks, long? expectedFirst = null)
    {
        long first = 0, last = 0;
        var next = expectedFirst;
        foreach (var chunk in chunks)
        {
            var events = new EventWalker(chunk);
            while (events.Next(out var e))
            {
                if (next is { } expected && e.Seq != expected)
                {
                    throw new InvalidOperationException($"expected seq {expected}, got {e.Seq}: the session's seq is not gapless");
                }

                first = first == 0 ? e.Seq : first;
                last = e.Seq;
                next = expectedFirst is null ? null : e.Seq + 1;
            }
        }

        return (first, last);
    }

    /// <summary>
    /// The events of <paramref name="chunks"/> with seq &gt; <paramref name="afterSeq"/>. The same array when every event
    /// is after it (the common case); otherwise the kept events are copied into chunks of their own, the first event of
    /// each spelling out its session id and method.
    /// </summary>
    public static byte[][] SliceAfter(byte[][] chunks, long afterSeq)
    {
        var all = true;
        foreach (var chunk in chunks)
        {
            var events = new EventWalker(chunk);
            while (all && events.Next(out var e))
            {
                all = e.Seq > afterSeq;
            }
        }

        if (all)
        {
            return chunks;
        }

        // Rare: where history and live overlap, once per (re)connect. Decoding the batch is simpler than re-spelling bytes.
        var kept = Decode(chunks, chunks.Sum(c => Count(c))).Where(e => e.Seq > afterSeq).ToArray();
        return kept.Length == 0 ? [] : EncodeChunks(kept);
    }

    /// <summary>One event as it lies encoded: UTF-8 spans into its chunk, nothing decoded.</summary>
    public readonly ref struct RawEvent(ReadOnlySpan<byte> sessionId, long seq, long createdAtUnixMs, ReadOnlySpan<byte> method, ReadOnlySpan<byte> parameters)
    {
        public ReadOnlySpan<byte> SessionIdUtf8 { get; } = sessionId;

        public long Seq { get; } = seq;

        public long CreatedAtUnixMs { get; } = createdAtUnixMs;

        public ReadOnlySpan<byte> MethodUtf8 { get; } = method;

        /// <summary>The params JSON as stored.</summary>
        public ReadOnlySpan<byte> ParamsUtf8 { get; } = parameters;
    }

    /// <summary>Reads one chunk's events as <see cref="RawEvent"/>s, validating as <see cref="Decode(ReadOnlySpan{byte})"/> does.</summary>
    public ref struct RawReader(ReadOnlySpan<byte> chunk)
    {
        private readonly ReadOnlySpan<byte> _chunk = chunk;
        private EventWalker _events = new(chunk);
        private int _sessionAt = -1;
        private int _sessionLength;

        public bool Next(out RawEvent e)
        {
            if (!_events.Next(out var span))
            {
                e = default;
                return false;
            }

            if (span.SessionLength >= 0)
            {
                _sessionAt = span.SessionAt;
                _sessionLength = span.SessionLength;
            }

            var created = BinaryPrimitives.ReadInt64LittleEndian(_chunk[(span.MethodFieldAt - 8)..]);
            e = new RawEvent(_chunk.Slice(_sessionAt, _sessionLength), span.Seq, created,
                _chunk.Slice(span.MethodAt, span.MethodLength), _chunk.Slice(span.End - span.ParamsLength, span.ParamsLength));
            return true;
        }
    }

    /// <summary>True when every event of <paramref name="chunks"/> belongs to the session (none at all counts).</summary>
    private static bool OnlySession(byte[][] chunks, ReadOnlySpan<byte> sessionIdUtf8)
    {
        foreach (var chunk in chunks)
        {
            var events = new EventWalker(chunk);
            while (events.Next(out var e))
            {
                if (e.SessionLength >= 0 && !chunk.AsSpan(e.SessionAt, e.SessionLength).SequenceEqual(sessionIdUtf8))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>Where one encoded event's parts are in its chunk.</summary>
    private readonly record struct EventSpan(int Start, int End, byte Flags, int SessionAt, int SessionLength, int MethodFieldAt, int MethodAt, int MethodLength, long Seq, int ParamsLength);

    /// <summary>Walks a chunk's events by their lengths without decoding them; validates as <see cref="Decode(ReadOnlySpan{byte})"/> does.</summary>
    private ref struct EventWalker
    {
        private readonly ReadOnlySpan<byte> _chunk;
        private int _remaining;
        private int _position;
        private int _methodAt;
        private int _methodLength;
        private bool _seenSession;

        public EventWalker(ReadOnlySpan<byte> chunk)
        {
            _chunk = chunk;
            _remaining = Count(chunk);
            _position = HeaderSize;
            _methodLength = -1;
        }

        public bool Next(out EventSpan e)
        {
            if (_remaining-- == 0)
            {
                if (_position != _chunk.Length)
                {
                    throw Malformed("trailing bytes");
                }

                e = default;
                return false;
            }

            var start = _position;
            var flags = ReadByte(_chunk, ref _position);
            int sessionAt = -1, sessionLength = -1;
            if ((flags & SameSession) == 0)
            {
                sessionLength = ReadBlock(_chunk, ref _position).Length;
                sessionAt = _position - sessionLength;
                _seenSession = true;
            }
            else if (!_seenSession)
            {
                throw Malformed("first event refers to a previous session id");
            }

            if (_chunk.Length - _position < 16)
            {
                throw Malformed("truncated");
            }

            var seq = BinaryPrimitives.ReadInt64LittleEndian(_chunk[_position..]);
            _position += 16;
            var methodFieldAt = _position;
            if ((flags & SameMethod) == 0)
            {
                _methodLength = ReadBlock(_chunk, ref _position).Length;
                _methodAt = _position - _methodLength;
            }
            else if (_methodLength < 0)
            {
                throw Malformed("first event refers to a previous method");
            }

            var paramsLength = ReadBlock(_chunk, ref _position).Length;
            e = new EventSpan(start, _position, flags, sessionAt, sessionLength, methodFieldAt, _methodAt, _methodLength, seq, paramsLength);
            return true;
        }
    }

    /// <summary>Builds one session's chunk out of encoded events copied from another chunk.</summary>
    private sealed class SliceWriter
    {
        private byte[] _buffer = new byte[4096];
        private int _length = HeaderSize;

        public int Count { get; private set; }

        public void Add(byte[] chunk, EventSpan e, bool spellOutMethod)
        {
            var size = e.End - e.Start + (spellOutMethod ? 4 + e.MethodLength : 0);
            if (_length + size > _buffer.Length)
            {
                Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + size));
            }

            var target = _buffer.AsSpan(_length);
            if (!spellOutMethod)
            {
                chunk.AsSpan(e.Start, e.End - e.Start).CopyTo(target);
            }
            else
            {
                target[0] = (byte)(e.Flags & ~SameMethod);
                var head = e.MethodFieldAt - e.Start - 1;
                chunk.AsSpan(e.Start + 1, head).CopyTo(target[1..]);
                BinaryPrimitives.WriteInt32LittleEndian(target[(1 + head)..], e.MethodLength);
                chunk.AsSpan(e.MethodAt, e.MethodLength).CopyTo(target[(5 + head)..]);
                chunk.AsSpan(e.MethodFieldAt, e.End - e.MethodFieldAt).CopyTo(target[(5 + head + e.MethodLength)..]);
            }

            _length += size;
            Count++;
        }

        public byte[] ToArrayAndReset()
        {
            _buffer[0] = Version;
            BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(1), Count);
            var chunk = _buffer.AsSpan(0, _length).ToArray();
            _length = HeaderSize;
            Count = 0;
            return chunk;
        }
    }

    private static InvalidDataException Malformed(string what) => new($"Malformed session event payload: {what}.");

    /// <summary>
    /// Builds a payload event by event, or a run of chunks when given a <c>chunkSize</c>: an event
    /// that would take the current chunk past it starts a new one. Reusable after <see cref="Reset"/>.
    /// </summary>
    internal sealed class Writer
    {
        private readonly int _chunkSize;
        private readonly List<byte[]> _sealed = [];
        private int _sealedCount;
        private byte[] _buffer;
        private int _length;
        private int _count;
        private string? _lastSession;
        private string? _lastMethod;
        private int _lastMethodAt;
        private int _lastMethodLength = -1;

        public Writer(int capacity = 4096, int chunkSize = int.MaxValue)
        {
            _chunkSize = chunkSize;
            _buffer = new byte[Math.Max(Math.Min(capacity, chunkSize), HeaderSize)];
            Reset();
        }

        /// <summary>Events added since the last <see cref="Reset"/>, in all chunks.</summary>
        public int Count => _sealedCount + _count;

        public void Reset()
        {
            _sealed.Clear();
            _sealedCount = 0;
            StartChunk();
        }

        private void StartChunk()
        {
            _buffer[0] = Version;
            _length = HeaderSize;
            _count = 0;
            _lastSession = null;
            _lastMethod = null;
            _lastMethodLength = -1;
        }

        /// <summary>Appends one event; <paramref name="paramsUtf8"/> is the params JSON as UTF-8.</summary>
        public void Add(string sessionId, long seq, long createdAtMs, string method, ReadOnlySpan<byte> paramsUtf8)
        {
            var methodMax = Encoding.UTF8.GetMaxByteCount(method.Length);
            SealIfFull(paramsUtf8.Length + Encoding.UTF8.GetMaxByteCount(sessionId.Length) + methodMax);
            // Reference equality is the common case (one string per method); equal text is too.
            var sameMethod = _lastMethod is not null && (ReferenceEquals(method, _lastMethod) || method == _lastMethod);
            Span<byte> methodUtf8 = sameMethod ? default : methodMax <= 256 ? stackalloc byte[256] : new byte[methodMax];
            var methodLength = sameMethod ? 0 : Encoding.UTF8.GetBytes(method, methodUtf8);
            Write(sessionId, seq, createdAtMs, sameMethod, methodUtf8[..methodLength], paramsUtf8);
            _lastMethod = method;
        }

        /// <summary>Appends one event whose method is UTF-8 bytes (as read from the store).</summary>
        public void Add(string sessionId, long seq, long createdAtMs, ReadOnlySpan<byte> methodUtf8, ReadOnlySpan<byte> paramsUtf8)
        {
            SealIfFull(paramsUtf8.Length + Encoding.UTF8.GetMaxByteCount(sessionId.Length) + methodUtf8.Length);
            var sameMethod = _lastMethodLength >= 0 && methodUtf8.SequenceEqual(_buffer.AsSpan(_lastMethodAt, _lastMethodLength));
            Write(sessionId, seq, createdAtMs, sameMethod, methodUtf8, paramsUtf8);
            if (!sameMethod)
            {
                _lastMethod = null; // known as bytes only
            }
        }

        /// <summary>One event: flags, session id unless it repeats, seq, time, method unless it repeats, params.</summary>
        private void Write(string sessionId, long seq, long createdAtMs, bool sameMethod, ReadOnlySpan<byte> methodUtf8, ReadOnlySpan<byte> paramsUtf8)
        {
            // Reference equality is the common case (one string per session); equal text is too.
            var sameSession = _lastSession is not null && (ReferenceEquals(sessionId, _lastSession) || sessionId == _lastSession);
            var flags = (byte)((sameSession ? SameSession : 0) | (sameMethod ? SameMethod : 0));
            Ensure(1 + 8 + 8 + 4 + paramsUtf8.Length
                + (sameSession ? 0 : 4 + Encoding.UTF8.GetMaxByteCount(sessionId.Length))
                + (sameMethod ? 0 : 4 + methodUtf8.Length));
            var span = _buffer.AsSpan(_length);
            var at = 0;
            span[at++] = flags;
            if (!sameSession)
            {
                at += WriteString(span[at..], sessionId);
                _lastSession = sessionId;
            }

            BinaryPrimitives.WriteInt64LittleEndian(span[at..], seq);
            BinaryPrimitives.WriteInt64LittleEndian(span[(at + 8)..], createdAtMs);
            at += 16;
            if (!sameMethod)
            {
                BinaryPrimitives.WriteInt32LittleEndian(span[at..], methodUtf8.Length);
                methodUtf8.CopyTo(span[(at + 4)..]);
                _lastMethodAt = _length + at + 4;
                _lastMethodLength = methodUtf8.Length;
                at += 4 + methodUtf8.Length;
            }

            BinaryPrimitives.WriteInt32LittleEndian(span[at..], paramsUtf8.Length);
            paramsUtf8.CopyTo(span[(at + 4)..]);
            at += 4 + paramsUtf8.Length;
            _length += at;
            _count++;
        }

        private void SealIfFull(int variableBytes)
        {
            if (_count > 0 && (long)_length + 1 + 8 + 8 + 12 + variableBytes > _chunkSize)
            {
                _sealed.Add(ToArray());
                _sealedCount += _count;
                StartChunk(); // a chunk never refers to the previous chunk's session id or method
            }
        }

        /// <summary>Every chunk, in order (one, possibly empty, when nothing was sealed).</summary>
        public byte[][] ToChunks()
        {
            if (_sealed.Count == 0)
            {
                return [ToArray()];
            }

            return _count == 0 ? [.. _sealed] : [.. _sealed, ToArray()];
        }

        /// <summary>The current chunk (the whole payload when no chunk size was given), as a new array.</summary>
        public byte[] ToArray()
        {
            BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(1), _count);
            return _buffer.AsSpan(0, _length).ToArray();
        }

        private static int WriteString(Span<byte> span, string value)
        {
            var written = Encoding.UTF8.GetBytes(value, span[4..]);
            BinaryPrimitives.WriteInt32LittleEndian(span, written);
            return 4 + written;
        }

        private void Ensure(int more)
        {
            if ((long)_length + more > Array.MaxLength)
            {
                throw new InvalidOperationException("A session event batch cannot exceed 2 GiB.");
            }

            if (_length + more > _buffer.Length)
            {
                Array.Resize(ref _buffer, (int)Math.Min(Array.MaxLength, Math.Max((long)_buffer.Length * 2, (long)_length + more)));
            }
        }
    }
}
