using System.Text.Json;
using AgentOs.Acp;
using AgentOs.Agents;
using AgentOs.Events;
using AgentOs.Layout;
using AgentOs.Sandbox;

namespace AgentOs.Sessions;

/// <summary>
/// Terminals (ACP <c>terminal/create</c>, <c>output</c>, <c>wait_for_exit</c>, <c>kill</c>, <c>release</c>): commands the agent
/// runs through the client, run here as its own processes are, in the same sandbox (its home, its VM's network, nothing of the
/// host) and in a cgroup inside the agent's (its limits, shared), with its environment and the request's on top (checked as a
/// session's Env is), in a working directory inside the VM's home. Each keeps at most its <c>outputByteLimit</c> of output
/// (and <see cref="AgentOsOptions.MaxTerminalOutputBytes"/>); each one's end is recorded (<c>_agentos/terminal_exit</c>); all
/// of them end with the agent (<see cref="SessionTerminals"/>).
/// </summary>
internal sealed partial class AgentSession
{
    private readonly SessionTerminals _terminals;

    /// <summary>The options and limits the agent was started with, which its terminals get too.</summary>
    private CreateSessionOptions _options = new();
    private EnforcedLimits? _limits;

    /// <summary>The session's working directory (a VM path): a terminal's when its request names none.</summary>
    private string _vmCwd = VmPaths.Home;

    private async Task<AcpReply> AnswerTerminalAsync(string method, JsonElement @params)
    {
        if (method == AcpMethods.TerminalCreate)
        {
            var id = await CreateTerminalAsync(@params).ConfigureAwait(false);
            return AcpReply.Result(JsonSerializer.Serialize(new CreateTerminalResponse { TerminalId = id }, AcpJsonContext.Default.CreateTerminalResponse));
        }

        var terminalId = TerminalIdOf(@params);
        switch (method)
        {
            case AcpMethods.TerminalWaitForExit:
                var exit = await _terminals.Get(terminalId).Exited.ConfigureAwait(false);
                return AcpReply.Result(JsonSerializer.Serialize(ExitStatus(exit), AcpJsonContext.Default.TerminalExitStatus));
            case AcpMethods.TerminalKill:
                await _terminals.KillAsync(terminalId).ConfigureAwait(false);
                return AcpReply.Result("{}");
            default:
                await _terminals.ReleaseAsync(terminalId).ConfigureAwait(false);
                return AcpReply.Result("{}");
        }
    }

    /// <summary>The output so far and, once the command ended, its exit status; recorded with the output bounded to its last 64 KiB.</summary>
    private (AcpReply Reply, Action<Utf8JsonWriter> Record) TerminalOutput(JsonElement @params)
    {
        var terminal = _terminals.Get(TerminalIdOf(@params));
        var exit = terminal.Exited.IsCompleted ? terminal.Exited.Result : null;
        var (output, truncated) = terminal.Output.Read(final: exit is not null);
        var status = exit is null ? null : ExitStatus(exit);
        var reply = AcpReply.Result(JsonSerializer.Serialize(new TerminalOutputResponse { Output = output, Truncated = truncated, ExitStatus = status }, AcpJsonContext.Default.TerminalOutputResponse));
        return (reply, w =>
        {
            RecordedFile.WriteTail(w, "output", output);
            w.WriteBoolean("truncated", truncated);
            if (status is not null)
            {
                w.WritePropertyName("exitStatus");
                JsonSerializer.Serialize(w, status, AcpJsonContext.Default.TerminalExitStatus);
            }
        });
    }

    private async Task<string> CreateTerminalAsync(JsonElement @params)
    {
        var request = @params.Deserialize(AcpJsonContext.Default.CreateTerminalRequest);
        if (request is null || string.IsNullOrWhiteSpace(request.Command) || request.Command.Contains('\0', StringComparison.Ordinal))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "terminal/create needs a command.");
        }

        // Like the session's Cwd: a folder inside the VM's home (the agent may name it as it sees it).
        var vmCwd = request.Cwd is { } cwd ? (VmPaths.Home + "/" + _context.Paths.RelativeFromAgent(cwd)).TrimEnd('/') : _vmCwd;
        if (!Directory.Exists(_context.Paths.ToHost(vmCwd)))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidPath, $"The terminal's cwd '{request.Cwd}' is not a folder in the VM.");
        }

        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var variable in request.Env ?? [])
        {
            env[variable.Name] = variable.Value;
        }

        var args = request.Args ?? [];
        if (args.Any(a => a is null || a.Contains('\0', StringComparison.Ordinal)))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "A terminal's args must be text without NUL characters.");
        }

        var limit = (int)Math.Min(request.OutputByteLimit ?? (ulong)Options.MaxTerminalOutputBytes, (ulong)Options.MaxTerminalOutputBytes);
        var terminal = await _terminals.CreateAsync(async id =>
        {
            var run = Path.Combine(_context.Paths.Run, SessionId, id);
            var launch = await AgentLaunchPlanner.PlanTerminalAsync(_context.Sandbox, _context.Paths, AgentType, _options, request.Command, args, env, vmCwd, run, CancellationToken.None).ConfigureAwait(false);
            var cgroup = _cgroup?.CreateChild(id);
            try
            {
                return await TerminalProcess.StartAsync(id, AgentCgroups.Wrap(launch, cgroup, _limits!, _context.HomeQuota.Quota), cgroup, new TerminalOutput(limit), run).ConfigureAwait(false);
            }
            catch
            {
                if (cgroup is not null)
                {
                    await cgroup.DisposeAsync().ConfigureAwait(false);
                }

                throw;
            }
        }).ConfigureAwait(false);
        Log.TerminalStarted(_context.Logger, _context.VmId, SessionId, terminal.Id, terminal.Pid);
        return terminal.Id;
    }

    private static string TerminalIdOf(JsonElement @params) =>
        @params.Deserialize(AcpJsonContext.Default.TerminalRequest)?.TerminalId
        ?? throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "The request needs a terminalId.");

    private static TerminalExitStatus ExitStatus(TerminalExit exit) => new() { ExitCode = exit.ExitCode, Signal = exit.Signal };
}
