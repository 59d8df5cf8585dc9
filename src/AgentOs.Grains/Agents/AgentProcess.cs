using System.Collections;
using System.Diagnostics;
using AgentOs.Sandbox;
using CliWrap;

namespace AgentOs.Agents;

/// <summary>
/// An agent process started through CliWrap with stdin/stdout handed to the ACP connection as raw
/// streams (no copy), stderr read line by line into a bounded tail and a callback, and the host's
/// environment removed: the agent sees only <see cref="AgentLaunch.Env"/>.
/// </summary>
internal sealed class AgentProcess : IAsyncDisposable
{
    private const int TailLines = 40;

    private readonly Queue<string> _stderrTail = new();
    private readonly TaskCompletionSource _stdinReleased = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stdoutReleased = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _graceful = new();
    private readonly CancellationTokenSource _forceful = new();
    private Task<int> _exit = Task.FromResult(-1);

    private AgentProcess(AgentLaunch launch) => Launch = launch;

    public AgentLaunch Launch { get; }

    public int Pid { get; private set; }

    public Stream StandardInput { get; private set; } = Stream.Null;

    public Stream StandardOutput { get; private set; } = Stream.Null;

    /// <summary>Completes with the exit code when the process has exited.</summary>
    public Task<int> Exited => _exit;

    public bool HasExited => _exit.IsCompleted;

    /// <summary>The last lines the agent wrote to stderr.</summary>
    public string StderrTail
    {
        get
        {
            lock (_stderrTail)
            {
                return string.Join('\n', _stderrTail);
            }
        }
    }

    /// <summary>Starts the process; throws <see cref="AgentOsException"/> when it cannot be started.</summary>
    public static async Task<AgentProcess> StartAsync(AgentLaunch launch, Action<AgentProcess, string> onStderrLine, CancellationToken cancellationToken)
    {
        var process = new AgentProcess(launch);
        var stdin = new TaskCompletionSource<Stream>(TaskCreationOptions.RunContinuationsAsynchronously);
        var stdout = new TaskCompletionSource<Stream>(TaskCreationOptions.RunContinuationsAsynchronously);

        var command = Cli.Wrap(launch.Command)
            .WithArguments(launch.Args)
            .WithWorkingDirectory(launch.WorkingDirectory)
            .WithEnvironmentVariables(IsolatedEnvironment(launch.Env))
            .WithValidation(CommandResultValidation.None)
            .WithStandardInputPipe(PipeSource.Create(async (destination, ct) =>
            {
                stdin.TrySetResult(destination);
                // Held open until the ACP connection closes it or the process exits (CliWrap then cancels ct).
                try
                {
                    await process._stdinReleased.Task.WaitAsync(ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }))
            .WithStandardOutputPipe(PipeTarget.Create(async (origin, ct) =>
            {
                stdout.TrySetResult(origin);
                await process._stdoutReleased.Task.ConfigureAwait(false);
            }))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(line => process.OnStderr(line, onStderrLine)));

        CommandTask<CommandResult> task;
        try
        {
            // From the spawn thread, never a pool thread: see SpawnThread (bwrap's --die-with-parent).
            task = await SpawnThread.RunAsync(() => command.ExecuteAsync(process._forceful.Token, process._graceful.Token)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException or DirectoryNotFoundException)
        {
            await process.ReleaseResourcesAsync().ConfigureAwait(false);
            throw new AgentOsException(AgentOsErrorCode.AgentStartFailed,
                $"Could not start the agent command '{launch.Command}': {ex.Message}. Check the agent type's Command (an absolute path, or a program on the server's PATH).");
        }

        process.Pid = task.ProcessId;
        process._exit = WaitForExitAsync(task, process);
        // Streams are handed over as soon as CliWrap starts piping; if the process dies first, the pipes may never open.
        var ready = Task.WhenAll(stdin.Task, stdout.Task);
        if (await Task.WhenAny(ready, process._exit).WaitAsync(cancellationToken).ConfigureAwait(false) != ready)
        {
            await ready.WaitAsync(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        }

        process.StandardInput = await stdin.Task.ConfigureAwait(false);
        process.StandardOutput = await stdout.Task.ConfigureAwait(false);
        return process;
    }

    private static async Task<int> WaitForExitAsync(CommandTask<CommandResult> task, AgentProcess process)
    {
        try
        {
            var result = await task.ConfigureAwait(false);
            return result.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return 137; // killed
        }
        finally
        {
            process._stdinReleased.TrySetResult();
            process._stdoutReleased.TrySetResult();
            await process.ReleaseResourcesAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The host environment, every variable removed, then exactly <paramref name="env"/>.</summary>
    private static Dictionary<string, string?> IsolatedEnvironment(IReadOnlyDictionary<string, string> env)
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            result[(string)entry.Key] = null;
        }

        foreach (var (key, value) in env)
        {
            result[key] = value;
        }

        return result;
    }

    private void OnStderr(string line, Action<AgentProcess, string> callback)
    {
        lock (_stderrTail)
        {
            _stderrTail.Enqueue(line.Length > 2000 ? line[..2000] + "…" : line);
            while (_stderrTail.Count > TailLines)
            {
                _stderrTail.Dequeue();
            }
        }

        callback(this, line);
    }

    /// <summary>Signals that the ACP connection is done with stdout.</summary>
    public void ReleaseStandardOutput() => _stdoutReleased.TrySetResult();

    /// <summary>
    /// Stops the process: close stdin and give the agent a moment to take the hint (most exit at EOF); then SIGTERM to
    /// the agent's own processes (inside the sandbox, not bubblewrap, which does not pass signals on), from the bottom
    /// of its tree up (<see cref="TerminateAsync"/>), and wait <paramref name="grace"/>; then kill the whole process
    /// tree. Returns the exit code, and whether a kill was needed.
    /// </summary>
    public async Task<(int ExitCode, bool Killed)> StopAsync(TimeSpan grace)
    {
        _stdinReleased.TrySetResult();
        try
        {
            await StandardInput.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
        }

        if (await WaitAsync(grace < EofGrace ? grace : EofGrace).ConfigureAwait(false))
        {
            return (await _exit.ConfigureAwait(false), false);
        }

        if (!await TerminateAsync(grace).ConfigureAwait(false))
        {
            await _graceful.CancelAsync().ConfigureAwait(false); // SIGINT to what was started, the old way
        }

        if (await WaitAsync(grace).ConfigureAwait(false))
        {
            return (await _exit.ConfigureAwait(false), false);
        }

        Kill();
        await WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        return (_exit.IsCompleted ? await _exit.ConfigureAwait(false) : 137, true);
    }

    /// <summary>How long an agent gets after stdin's EOF before its SIGTERM: agents that exit at EOF do it in milliseconds.</summary>
    private static readonly TimeSpan EofGrace = TimeSpan.FromMilliseconds(250);

    /// <summary>How long one level of the agent's process tree gets to exit after its SIGTERM before the level above gets its own.</summary>
    private static readonly TimeSpan LevelGrace = TimeSpan.FromMilliseconds(500);

    /// <summary>How long a level whose children have exited gets to exit by itself (a launcher returning its child's status) before its SIGTERM.</summary>
    private static readonly TimeSpan LauncherReaction = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// SIGTERM to the agent's own processes, the deepest first, each level given a moment to exit before its parents get
    /// theirs (at most <paramref name="grace"/> in all before the top). A launcher often passes no signal on and dies of
    /// SIGTERM at once (codex-acp's npm launcher runs the native binary with node's <c>spawnSync</c>; Claude Code's adapter
    /// runs its CLI): signalled first, it would leave its child none, and in the sandbox the PID namespace would go down
    /// with it and take the child with a SIGKILL. False when there was no process to signal.
    /// </summary>
    private async Task<bool> TerminateAsync(TimeSpan grace)
    {
        var levels = ProcessTree.Levels(Pid);
        var clock = Stopwatch.StartNew();
        for (var i = levels.Count - 1; i >= 0 && !_exit.IsCompleted; i--)
        {
            if (i < levels.Count - 1)
            {
                // Its children have exited (or had their time): a launcher returns their status by itself.
                await WhileAsync(() => levels[i].Any(ProcessTree.IsRunning), clock.Elapsed + LauncherReaction).ConfigureAwait(false);
            }

            foreach (var pid in levels[i].Where(ProcessTree.IsRunning))
            {
                _ = Signals.Send(pid, Signals.Term);
            }

            if (i > 0)
            {
                var until = LevelGrace * (levels.Count - i);
                await WhileAsync(() => levels[i].Any(ProcessTree.IsRunning), until < grace ? until : grace).ConfigureAwait(false);
            }
        }

        return levels.Count > 0;

        async Task WhileAsync(Func<bool> condition, TimeSpan until)
        {
            while (condition() && !_exit.IsCompleted && clock.Elapsed < until)
            {
                await Task.Delay(10).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Kills the process and its children at once.</summary>
    public void Kill()
    {
        try
        {
            using var process = Process.GetProcessById(Pid);
            process.Kill(entireProcessTree: true);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }

        _forceful.Cancel();
    }

    private async Task<bool> WaitAsync(TimeSpan timeout)
    {
        try
        {
            await _exit.WaitAsync(timeout).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>What the launch holds while the agent runs (its VM's network): released once, after the exit.</summary>
    private ValueTask ReleaseResourcesAsync() => Launch.Resources?.DisposeAsync() ?? ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            Kill();
            await WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }

        _graceful.Dispose();
        _forceful.Dispose();
    }
}
