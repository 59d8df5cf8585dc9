using System.Buffers;
using System.Text;
using AgentOs.Acp;

namespace AgentOs.Client;

/// <summary>Reading common ACP shapes out of a <see cref="SessionEvent"/>.</summary>
public static class SessionEventExtensions
{
    /// <summary>For <c>session/update</c>: the update kind (<c>agent_message_chunk</c>, <c>tool_call</c>, …); else null.</summary>
    public static string? GetUpdateKind(this SessionEvent e) => ScanUpdate(e, kind: true);

    /// <summary>
    /// The text of an <c>agent_message_chunk</c> or <c>agent_thought_chunk</c> update (or of a
    /// <c>user_message_chunk</c>, as agents replay history); else null.
    /// </summary>
    public static string? GetText(this SessionEvent e) => ScanUpdate(e, kind: false);

    /// <summary>Runs <see cref="SessionUpdateScan"/> over the params, encoded into a pooled buffer.</summary>
    private static string? ScanUpdate(SessionEvent e, bool kind)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.Method != AcpMethods.SessionUpdate)
        {
            return null;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(e.Params.Length));
        try
        {
            var utf8 = buffer.AsSpan(0, Encoding.UTF8.GetBytes(e.Params, buffer));
            return kind ? SessionUpdateScan.ReadKind(utf8) : SessionUpdateScan.ReadChunkText(utf8);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
