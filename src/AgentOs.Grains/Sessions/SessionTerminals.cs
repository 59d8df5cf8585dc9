using AgentOs.Agents;
using AgentOs.Events;

namespace AgentOs.Sessions;

/// <summary>The <c>reason</c> of an <c>_agentos/terminal_exit</c> event.</summary>
internal static class TerminalExitReasons
{
    public const string Exited = "exited";
    public const string Killed = "killed";
    public const string Released = "released";
    public const string SessionStopped = "session_stopped";
    public const string AgentExited = "agent_exited";
}

/// <summary>
/// One session's terminals (ACP <c>terminal/*</c>), by id: at most <see cref="AgentOsOptions.MaxTerminalsPerSession"/> held at
/// once, each one's end recorded as <c>_agentos/terminal_exit</c> (with why), and all of them killed and released when the session
/// stops or its agent exits (<see cref="CloseAsync"/>), after which none can be created. Thread-safe: the agent's requests arrive
/// concurrently on the ACP read loop.
/// </summary>
internal sealed class SessionTerminals(string sessionId, AgentOsEvents recorder, int maxTerminals)
{
    private readonly object _lock = new();
    private readonly Dictionary<string, Entry> _terminals = new(StringComparer.Ordinal);

    /// <summary>Makes ids unique across the agents a session has had (a resume starts a new agent, and a new count).</summary>
    private readonly string _nonce = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
    private int _counter;
    private string? _closedReason;

    /// <summary>Terminals held now (running, or exited and not released).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _terminals.Count;
            }
        }
    }

    /// <summary>
    /// Makes room for one more terminal and returns its id: at the limit the oldest exited terminal is released; when every one
    /// runs, <see cref="AgentOsErrorCode.QuotaExceeded"/>. Then <paramref name="start"/> starts it (throwing leaves nothing held).
    /// </summary>
    public async Task<TerminalProcess> CreateAsync(Func<string, Task<TerminalProcess>> start)
    {
        Entry? evicted = null;
        string id;
        int number;
        lock (_lock)
        {
            ThrowIfClosed();
            if (_terminals.Count >= maxTerminals)
            {
                evicted = _terminals.Values.Where(e => e.Process is { Exited.IsCompleted: true }).OrderBy(e => e.Number).FirstOrDefault()
                    ?? throw new AgentOsException(AgentOsErrorCode.QuotaExceeded,
                        $"The session has {_terminals.Count} terminals running, the most it may hold (AgentOs:MaxTerminalsPerSession); release one (terminal/release) first.")
                    { SessionId = sessionId };
                _terminals.Remove(evicted.Process.Id);
            }

            number = ++_counter;
            id = $"term_{_nonce}_{number}";
            _terminals[id] = Entry.Reserved(number); // holds the place while it starts
        }

        if (evicted is not null)
        {
            await evicted.Process.DisposeAsync().ConfigureAwait(false);
        }

        TerminalProcess process;
        try
        {
            process = await start(id).ConfigureAwait(false);
        }
        catch
        {
            lock (_lock)
            {
                _terminals.Remove(id);
            }

            throw;
        }

        var entry = new Entry(number, process);
        bool closed;
        lock (_lock)
        {
            closed = _closedReason is not null;
            if (!closed)
            {
                _terminals[id] = entry;
            }
        }

        entry.Recorded = RecordExitAsync(entry);
        if (closed)
        {
            // The session stopped while it started: it ends at once.
            entry.Reason = _closedReason;
            await process.DisposeAsync().ConfigureAwait(false);
            ThrowIfClosed();
        }

        return process;
    }

    /// <summary>The terminal named <paramref name="terminalId"/>; <see cref="AgentOsErrorCode.InvalidArgument"/> when the session holds none such.</summary>
    public TerminalProcess Get(string terminalId) => Find(terminalId).Process;

    /// <summary>Kills the terminal's command (the terminal stays: its output and exit status can still be read), once its exit is recorded.</summary>
    public async Task KillAsync(string terminalId)
    {
        var entry = Find(terminalId);
        await EndAsync(entry, TerminalExitReasons.Killed).ConfigureAwait(false);
    }

    /// <summary>Kills the terminal's command if it runs and forgets the terminal.</summary>
    public async Task ReleaseAsync(string terminalId)
    {
        var entry = Find(terminalId);
        lock (_lock)
        {
            _terminals.Remove(terminalId);
        }

        await EndAsync(entry, TerminalExitReasons.Released).ConfigureAwait(false);
        await entry.Process.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Kills and releases every terminal (<paramref name="reason"/> recorded for those that ran); none can be created after.</summary>
    public async Task CloseAsync(string reason)
    {
        Entry[] all;
        lock (_lock)
        {
            _closedReason ??= reason;
            all = [.. _terminals.Values.Where(e => e.Process is not null)];
            _terminals.Clear();
        }

        await Task.WhenAll(all.Select(async entry =>
        {
            await EndAsync(entry, reason).ConfigureAwait(false);
            await entry.Process.DisposeAsync().ConfigureAwait(false);
        })).ConfigureAwait(false);
    }

    /// <summary>Ends a running terminal's command for <paramref name="reason"/> and waits until its exit is recorded.</summary>
    private static async Task EndAsync(Entry entry, string reason)
    {
        if (!entry.Process.Exited.IsCompleted)
        {
            entry.Reason ??= reason;
            await entry.Process.KillAsync().ConfigureAwait(false);
        }

        await entry.Recorded.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task RecordExitAsync(Entry entry)
    {
        var exit = await entry.Process.Exited.ConfigureAwait(false);
        var (output, truncated) = entry.Process.Output.Read(final: true);
        try
        {
            await recorder.TerminalExitAsync(entry.Process.Id, exit.ExitCode, exit.Signal, entry.Reason ?? TerminalExitReasons.Exited, output, truncated, entry.Process.Output.BytesWritten).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The pipeline is gone (the VM is shutting down).
        }
    }

    private Entry Find(string terminalId)
    {
        lock (_lock)
        {
            if (terminalId is not null && _terminals.TryGetValue(terminalId, out var entry) && entry.Process is not null)
            {
                return entry;
            }
        }

        throw new AgentOsException(AgentOsErrorCode.InvalidArgument,
            $"The session has no terminal '{terminalId}' (released, or never created by terminal/create).") { SessionId = sessionId };
    }

    private void ThrowIfClosed()
    {
        if (_closedReason is { } reason)
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, $"The session's terminals are closed ({reason}): no new terminal.") { SessionId = sessionId };
        }
    }

    /// <summary>A terminal held by the session; <see cref="Process"/> is null while it starts.</summary>
    private sealed class Entry(int number, TerminalProcess process)
    {
        public static Entry Reserved(int number) => new(number, null!);

        public int Number => number;

        public TerminalProcess Process => process;

        /// <summary>Why AgentOs ended it, set before the kill; null when it exited by itself.</summary>
        public string? Reason { get; set; }

        public Task Recorded { get; set; } = Task.CompletedTask;
    }
}
