using System.Text;

namespace AgentOs.Agents;

/// <summary>
/// What a terminal keeps of its command's output: the last <see cref="Limit"/> bytes (ACP's <c>outputByteLimit</c>, at most the
/// server's <c>AgentOs:MaxTerminalOutputBytes</c>), older bytes dropped from the start. Read as text cut at a character boundary,
/// never longer than the limit in UTF-8. Thread-safe: the reader appends, requests read. The buffer grows with the output up to
/// the limit, so a quiet terminal with a large limit costs little.
/// </summary>
internal sealed class TerminalOutput(int limit)
{
    private const int InitialCapacity = 4096;

    private readonly object _lock = new();
    private byte[] _buffer = new byte[Math.Min(limit, InitialCapacity)];

    /// <summary>Where the kept bytes start in <see cref="_buffer"/> (it is a ring once it has grown to <see cref="Limit"/>).</summary>
    private int _start;
    private int _count;
    private long _written;
    private bool _dropped;

    public int Limit => limit;

    /// <summary>Every byte the command wrote, kept or not.</summary>
    public long BytesWritten
    {
        get
        {
            lock (_lock)
            {
                return _written;
            }
        }
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            _written += data.Length;
            if (data.Length == 0)
            {
                return;
            }

            if (data.Length >= limit)
            {
                // Only its end is kept: the buffer becomes exactly that.
                if (_buffer.Length != limit)
                {
                    _buffer = new byte[limit];
                }

                data[(data.Length - limit)..].CopyTo(_buffer);
                _dropped |= _count > 0 || data.Length > limit;
                (_start, _count) = (0, limit);
                return;
            }

            var needed = _count + data.Length;
            if (needed > _buffer.Length && _buffer.Length < limit)
            {
                Grow(Math.Min(limit, Math.Max(needed, _buffer.Length * 2)));
            }

            if (needed > _buffer.Length)
            {
                var drop = needed - _buffer.Length; // the buffer is at the limit: the oldest bytes go
                _start = (_start + drop) % _buffer.Length;
                _count -= drop;
                _dropped = true;
            }

            var at = (_start + _count) % _buffer.Length;
            var first = Math.Min(data.Length, _buffer.Length - at);
            data[..first].CopyTo(_buffer.AsSpan(at));
            data[first..].CopyTo(_buffer);
            _count += data.Length;
        }
    }

    /// <summary>
    /// The kept output as text, and whether anything was dropped. A partial character at the start (the cut) is left out; while
    /// the command runs (<paramref name="final"/> false) so is a partial one at the end, still being written.
    /// </summary>
    public (string Text, bool Truncated) Read(bool final)
    {
        byte[] bytes;
        bool dropped;
        lock (_lock)
        {
            bytes = new byte[_count];
            var first = Math.Min(_count, _buffer.Length - _start);
            _buffer.AsSpan(_start, first).CopyTo(bytes);
            _buffer.AsSpan(0, _count - first).CopyTo(bytes.AsSpan(first));
            dropped = _dropped;
        }

        var from = 0;
        while (dropped && from < bytes.Length && from < 3 && (bytes[from] & 0xC0) == 0x80)
        {
            from++; // inside a character whose lead byte was dropped
        }

        var to = final ? bytes.Length : CompleteUpTo(bytes, from);
        var text = Encoding.UTF8.GetString(bytes, from, to - from);
        // Invalid bytes decode as U+FFFD (3 bytes each): the text must still fit the limit.
        while (Encoding.UTF8.GetByteCount(text) > limit)
        {
            var cut = text.Length > 1 && char.IsHighSurrogate(text[0]) ? 2 : 1;
            text = text[cut..];
            dropped = true;
        }

        return (text, dropped);
    }

    /// <summary>The end of the last complete UTF-8 sequence in <paramref name="bytes"/>.</summary>
    private static int CompleteUpTo(byte[] bytes, int from)
    {
        for (var i = bytes.Length - 1; i >= from && i >= bytes.Length - 4; i--)
        {
            var b = bytes[i];
            if ((b & 0xC0) == 0x80)
            {
                continue; // a continuation byte: look for its lead
            }

            var length = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 1;
            return i + length <= bytes.Length ? bytes.Length : i;
        }

        return bytes.Length;
    }

    private void Grow(int capacity)
    {
        var grown = new byte[capacity];
        var first = Math.Min(_count, _buffer.Length - _start);
        _buffer.AsSpan(_start, first).CopyTo(grown);
        _buffer.AsSpan(0, _count - first).CopyTo(grown.AsSpan(first));
        (_buffer, _start) = (grown, 0);
    }
}
