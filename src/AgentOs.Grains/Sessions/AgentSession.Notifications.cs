using AgentOs.Events;
using AgentOs.Acp;
using AgentOs.Agents;

namespace AgentOs.Sessions;

/// <summary>What the agent sends on its own, called on the connection's read loop: notifications, malformed lines, stderr.</summary>
internal sealed partial class AgentSession
{
    /// <inheritdoc />
    public ValueTask OnNotificationAsync(AcpIncomingMessage notification)
    {
        if (_restoring)
        {
            Interlocked.Increment(ref _replayedNotifications);
            return ValueTask.CompletedTask;
        }

        // The params are stored as the agent's own UTF-8 bytes (copied: the read buffer is reused);
        // only the update kind, and a chunk's text during a turn, are read out of them.
        var paramsUtf8 = notification.ParamsUtf8;
        if (notification.Method == AcpMethods.SessionUpdate)
        {
            var update = SessionUpdateScan.Read(paramsUtf8.Span, wantText: Volatile.Read(ref _turnText) is not null);
            if (update.Kind == SessionUpdateKind.AgentMessageChunk && update.Text is { } text)
            {
                lock (_textLock)
                {
                    _turnText?.Append(text);
                }
            }
            else if (update.Kind == SessionUpdateKind.Config)
            {
                TrackConfigUpdate(notification.Params);
            }
        }

        var (method, stored) = AgentOsEvents.Bounded(notification.Method, paramsUtf8.IsEmpty ? "{}"u8.ToArray() : paramsUtf8.ToArray(), Options.MaxEventBytes);
        return Events.AppendWithBackPressureAsync(SessionId, method, stored);
    }

    /// <inheritdoc />
    public void OnMalformedLine(string preview, string reason)
    {
        var count = Interlocked.Increment(ref _malformedLines);
        Log.MalformedLine(_context.Logger, _context.VmId, SessionId, reason);
        if (count <= MaxRecordedMalformedLines)
        {
            _recorder.MalformedOutput(reason, preview, count);
        }
    }

    private void OnStderrLine(AgentProcess process, string line)
    {
        var sink = Options.OnAgentStderr;
        if (sink is null)
        {
            Console.Error.WriteLine($"[agent {_context.VmId}/{SessionId} {AgentType.Name} pid {process.Pid}] {line}");
            return;
        }

        try
        {
            sink(new AgentStderrChunk(_context.VmId, SessionId, AgentType.Name, SessionId, process.Pid, line));
        }
        catch (Exception ex)
        {
            Log.StderrCallbackFailed(_context.Logger, _context.VmId, ex);
        }
    }
}
