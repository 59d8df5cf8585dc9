using System.Text.Json;
using AgentOs.Layout;
using AgentOs.Sandbox;
using AgentOs.Software;

namespace AgentOs.Agents;

/// <summary>How one agent starts: the confined process, and what session/new carries besides cwd.</summary>
/// <param name="Launch">The process to start (already wrapped by the sandbox).</param>
/// <param name="SessionMeta">session/new <c>_meta</c> (Claude Code's system prompt), or null.</param>
/// <param name="AgentCwd">The working directory as the agent sees it (session/new's cwd).</param>
/// <param name="Instructions">The instructions text handed over, or null.</param>
internal sealed record AgentLaunchPlan(AgentLaunch Launch, JsonElement? SessionMeta, string AgentCwd, string? Instructions);

/// <summary>
/// Turns an agent type, a session's options and the server's sandbox into the process to start:
/// the minimal base environment (PATH, HOME, LANG, TERM) plus the type's and the session's Env;
/// the OS instructions plus <c>AdditionalInstructions</c>, written to a per-session file and passed
/// the way the type declares; then confinement by <see cref="AgentSandbox"/>.
/// </summary>
internal static class AgentLaunchPlanner
{
    public const string InstructionsFileName = "instructions.md";

    public static async Task<AgentLaunchPlan> PlanAsync(AgentSandbox sandbox, VmPaths paths, string sessionId, AgentType type, CreateSessionOptions options, string vmCwd, SandboxNetworkMode network, CancellationToken cancellationToken)
    {
        SessionEnvironment.Validate(options.Env, sessionId); // also a session stored before the check existed, at its resume
        var env = Environment(sandbox, paths, type, options);
        CheckCredentials(type, env, paths);

        var args = type.Args.ToList();
        var files = new List<SandboxFile>();
        var run = Path.Combine(paths.Run, sessionId);
        JsonElement? meta = null;
        var text = Compose(options.SkipOsInstructions ? null : OsInstructions.Text(paths.AgentHome, sandbox.MapsHome, sandbox.MapsHome ? network : SandboxNetworkMode.Host), options.AdditionalInstructions);
        if (text is not null && type.TakesInstructions)
        {
            var hostFile = Path.Combine(run, InstructionsFileName);
            PrivateFiles.CreateDirectory(run);
            File.WriteAllText(hostFile, text);
            var agentFile = sandbox.AgentFilePath(hostFile, InstructionsFileName);
            files.Add(new SandboxFile(hostFile, agentFile));
            args.AddRange(type.InstructionsArgs.Select(a => Render(a, agentFile, text)));
            foreach (var (key, value) in type.InstructionsEnv)
            {
                env[key] = Render(value, agentFile, text);
            }

            if (type.InstructionsInSessionMeta)
            {
                meta = JsonSerializer.SerializeToElement(new Dictionary<string, object> { ["systemPrompt"] = new Dictionary<string, string> { ["append"] = text } });
            }
        }

        var launch = await sandbox.PrepareAsync(new SandboxedCommand(paths, type.Command, args, env, vmCwd, type.ReadOnlyPaths, files, run), cancellationToken).ConfigureAwait(false);
        return new AgentLaunchPlan(launch, meta, paths.ToAgent(vmCwd), type.TakesInstructions ? text : null);
    }

    /// <summary>
    /// The process to start for a terminal of a session's agent (ACP <c>terminal/create</c>): in the same sandbox as the agent, with
    /// the agent's environment and <paramref name="env"/> on top (checked as a session's Env is), the agent type's read-only
    /// folders, in <paramref name="vmCwd"/> (a VM path, validated by the sandbox). Without <paramref name="args"/>,
    /// <paramref name="command"/> is a shell command line, run by <c>/bin/sh -c</c> (as ACP clients run it).
    /// </summary>
    public static Task<AgentLaunch> PlanTerminalAsync(AgentSandbox sandbox, VmPaths paths, AgentType type, CreateSessionOptions options,
        string command, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> env, string vmCwd, string runDirectory, CancellationToken cancellationToken)
    {
        SessionEnvironment.Validate(env);
        var environment = Environment(sandbox, paths, type, options);
        foreach (var (key, value) in env)
        {
            environment[key] = value;
        }

        var (program, arguments) = args.Count == 0 ? ("/bin/sh", (IReadOnlyList<string>)["-c", command]) : (command, args);
        return sandbox.PrepareAsync(new SandboxedCommand(paths, program, arguments, environment, vmCwd, type.ReadOnlyPaths, [], runDirectory), cancellationToken);
    }

    /// <summary>The agent's environment: the minimal base (PATH, HOME, LANG, TERM), its type's Env, its session's Env.</summary>
    private static Dictionary<string, string> Environment(AgentSandbox sandbox, VmPaths paths, AgentType type, CreateSessionOptions options)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = sandbox.SearchPath,
            ["HOME"] = paths.AgentHome,
            ["LANG"] = "C.UTF-8",
            ["TERM"] = "xterm-256color",
        };
        foreach (var (key, value) in type.Env.Concat(options.Env ?? new Dictionary<string, string>()))
        {
            env[key] = value;
        }

        return env;
    }

    private static string? Compose(string? os, string? additional)
    {
        var parts = new[] { os, additional }.Where(p => !string.IsNullOrWhiteSpace(p)).ToList();
        return parts.Count == 0 ? null : string.Join("\n\n", parts);
    }

    private static string Render(string template, string file, string text) => template
        .Replace("{filejson}", JsonSerializer.Serialize(file), StringComparison.Ordinal)
        .Replace("{file}", file, StringComparison.Ordinal)
        .Replace("{json}", JsonSerializer.Serialize(text), StringComparison.Ordinal)
        .Replace("{text}", text, StringComparison.Ordinal);

    /// <summary>A missing API key is a clear error before anything is spawned.</summary>
    private static void CheckCredentials(AgentType type, Dictionary<string, string> env, VmPaths paths)
    {
        var needed = type.Credentials;
        if (!needed.IsRequired ||
            needed.AnyOfEnv.Any(k => env.TryGetValue(k, out var v) && !string.IsNullOrWhiteSpace(v)) ||
            needed.OrHomeFiles.Any(f => File.Exists(Path.Combine(paths.HostHome, f))))
        {
            return;
        }

        var files = needed.OrHomeFiles.Count == 0 ? "" : $", or put one of {string.Join(", ", needed.OrHomeFiles.Select(f => $"{VmPaths.Home}/{f}"))} in the VM";
        throw new AgentOsException(AgentOsErrorCode.MissingCredentials,
            $"Agent type '{type.Name}' needs credentials for its LLM: set one of {string.Join(", ", needed.AnyOfEnv)} in the session's Env (CreateSessionOptions.Env) or for every session in AgentOs:Agents:{type.Name}:Env{files}.");
    }
}
