using System.Diagnostics;
using AgentOs.Sandbox;

namespace AgentOs.Agents;

/// <summary>How a terminal's command ended: its exit code, or the signal AgentOs killed it with.</summary>
internal sealed record TerminalExit(uint? ExitCode, string? Signal);

/// <summary>
/// One terminal's command (ACP <c>terminal/create</c>), started the way its agent was (<see cref="AgentLaunch"/> from the
/// same sandbox, in a cgroup inside the agent's): stdin is <c>/dev/null</c>, stdout and stderr go, interleaved as written,
/// into a <see cref="TerminalOutput"/>. When the command exits, whatever it left running in its cgroup is killed, so a
/// terminal's processes end with it (under bubblewrap its PID namespace does that anyway).
/// </summary>
internal sealed class TerminalProcess : IAsyncDisposable
{
    /// <summary>Wraps the launch: stdin from /dev/null, stderr into stdout, then the launch itself.</summary>
    private const string Redirect = "exec </dev/null 2>&1 && exec \"$@\"";

    private readonly Process _process;
    private readonly AgentLaunch _launch;
    private readonly AgentCgroup? _cgroup;
    private readonly string _runDirectory;
    private readonly TaskCompletionSource<TerminalExit> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _killed;
    private int _disposed;

    private TerminalProcess(string id, Process process, AgentLaunch launch, AgentCgroup? cgroup, TerminalOutput output, string runDirectory)
    {
        Id = id;
        _process = process;
        _launch = launch;
        _cgroup = cgroup;
        _runDirectory = runDirectory;
        Output = output;
        Pid = process.Id;
    }

    public string Id { get; }

    public int Pid { get; }

    public TerminalOutput Output { get; }

    /// <summary>Completes when the command has exited and its output is read.</summary>
    public Task<TerminalExit> Exited => _exited.Task;

    /// <summary>Starts <paramref name="launch"/> (from the spawn thread, like agents: see <see cref="SpawnThread"/>); throws <see cref="AgentOsException"/> when it cannot.</summary>
    /// <param name="id">The terminal's id.</param>
    /// <param name="launch">What to run, wrapped by the sandbox and the cgroup already.</param>
    /// <param name="cgroup">The terminal's own cgroup, or null where limits are not enforced.</param>
    /// <param name="output">Where its output goes.</param>
    /// <param name="runDirectory">Its host folder for server-made files, removed with it.</param>
    public static async Task<TerminalProcess> StartAsync(string id, AgentLaunch launch, AgentCgroup? cgroup, TerminalOutput output, string runDirectory)
    {
        var start = new ProcessStartInfo("/bin/sh")
        {
            WorkingDirectory = launch.WorkingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["-c", Redirect, "agentos-terminal", launch.Command, .. launch.Args])
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Clear();
        foreach (var (key, value) in launch.Env)
        {
            start.Environment[key] = value;
        }

        Process process;
        try
        {
            process = await SpawnThread.RunAsync(() => Process.Start(start)!).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            if (launch.Resources is { } resources)
            {
                await resources.DisposeAsync().ConfigureAwait(false);
            }

            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, $"The terminal's command could not be started: {ex.Message}.");
        }

        process.StandardInput.Close();
        var terminal = new TerminalProcess(id, process, launch, cgroup, output, runDirectory);
        _ = terminal.RunAsync();
        return terminal;
    }

    private async Task RunAsync()
    {
        var readers = Task.WhenAll(PumpAsync(_process.StandardOutput.BaseStream), PumpAsync(_process.StandardError.BaseStream));
        await _process.WaitForExitAsync().ConfigureAwait(false);
        var code = _process.ExitCode;
        if (_cgroup is not null)
        {
            await _cgroup.KillAllAsync().ConfigureAwait(false); // what the command left running ends with it
        }

        await readers.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _exited.TrySetResult(_killed ? new TerminalExit(null, "SIGKILL") : new TerminalExit(code < 0 ? null : (uint)code, null));
    }

    private async Task PumpAsync(Stream stream)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                Output.Append(buffer.AsSpan(0, read));
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The pipe went with the process.
        }
    }

    /// <summary>Kills the command and everything it started, and waits until it has exited (at most a few seconds).</summary>
    public async Task KillAsync()
    {
        if (_exited.Task.IsCompleted)
        {
            return;
        }

        _killed = true;
        if (_cgroup is not null)
        {
            await _cgroup.KillAllAsync().ConfigureAwait(false);
        }

        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Gone already.
        }

        await ((Task)_exited.Task).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>Kills it if it runs, then gives back what it held: its cgroup, its VM network lease, its run folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await KillAsync().ConfigureAwait(false);
        if (_cgroup is not null)
        {
            await _cgroup.DisposeAsync().ConfigureAwait(false);
        }

        if (_launch.Resources is { } resources)
        {
            await resources.DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            Directory.Delete(_runDirectory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not made (host processes), or gone.
        }

        _process.Dispose();
    }
}
