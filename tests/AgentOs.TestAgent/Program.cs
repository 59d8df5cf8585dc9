using System.Text;

namespace AgentOs.TestAgent;

/// <summary>What the command line asked for.</summary>
internal sealed record Options(
    string Name,
    bool HangOnNew,
    bool LoadSession,
    bool ResumeSession,
    bool McpHttp,
    bool Chatty,
    bool LegacyConfig,
    IReadOnlyList<string> Args)
{
    /// <summary>--minimal: every reply carries only the fields ACP v1 requires (no capabilities, agent info, modes or config).</summary>
    public bool Minimal { get; init; }

    /// <summary>--sparse-capabilities: <c>agentCapabilities</c> with <c>loadSession</c> alone (its optional objects left out).</summary>
    public bool SparseCapabilities { get; init; }

    /// <summary>--session-close: advertises <c>sessionCapabilities.close</c> and <c>delete</c>, and answers both (said on stderr).</summary>
    public bool SessionClose { get; init; }

    /// <summary>
    /// --maximal: every optional field, <c>_meta</c> on every object, fields no schema has, and (script <c>future</c>)
    /// notifications and update kinds the host does not know.
    /// </summary>
    public bool Maximal { get; init; }

    /// <summary>--record FILE: every line the host sends, and every request this agent sends (id, method), one JSON object per line.</summary>
    public static string? RecordFile { get; set; }

    private static readonly Lock RecordLock = new();

    public static void Record(System.Text.Json.Nodes.JsonObject entry)
    {
        if (RecordFile is { } file)
        {
            lock (RecordLock)
            {
                File.AppendAllText(file, entry.ToJsonString() + "\n");
            }
        }
    }

    /// <summary>--models-too: <c>session/new</c> answers <c>models</c> besides <c>configOptions</c> (an agent between the two ways of choosing a model).</summary>
    public bool ModelsToo { get; init; }

    /// <summary>The file named by <c>--instructions-file</c>: what the server handed over as instructions.</summary>
    public string? InstructionsFile { get; init; }
}

internal static class Program
{
    public static int Main(string[] args)
    {
        var name = "agentos-test-agent";
        string? instructionsFile = null;
        bool hangOnNew = false, loadSession = false, resumeSession = false, mcpHttp = false, chatty = false, legacyConfig = false, minimal = false, sparse = false, termOnly = false, sessionClose = false, maximal = false, modelsToo = false;

        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--exit-immediately":
                    var code = i + 1 < args.Length && int.TryParse(args[i + 1], out var parsed) ? parsed : 3;
                    Console.Error.WriteLine("test agent: exiting at once as asked");
                    return code;
                case "--garbage-then-exit":
                    using (var stdout = Console.OpenStandardOutput())
                    {
                        stdout.Write(Scripts.Garbage);
                        stdout.Flush();
                    }
                    Console.Error.WriteLine("test agent: garbage then exit");
                    return 2;
                case "--hang-on-new": hangOnNew = true; break;
                case "--load-session": loadSession = true; break;
                case "--resume-session": resumeSession = true; break;
                case "--mcp-http": mcpHttp = true; break;
                case "--chatty": chatty = true; break;
                case "--legacy-config": legacyConfig = true; break;
                case "--minimal": minimal = true; break;
                case "--sparse-capabilities": sparse = true; break;
                case "--session-close": sessionClose = true; break;
                case "--maximal": maximal = true; sessionClose = true; break;
                case "--models-too": modelsToo = true; break;
                case "--record" when i + 1 < args.Length: Options.RecordFile = args[++i]; break;
                case "--term-only": termOnly = true; break; // as Claude Code: stdin's EOF and SIGINT do not stop it, SIGTERM does
                case "--name" when i + 1 < args.Length: name = args[++i]; break;
                case "--extra-model" when i + 1 < args.Length: Session.AddModel(args[++i]); break;
                case "--instructions-file" when i + 1 < args.Length: instructionsFile = args[++i]; break;
                default: Console.Error.WriteLine($"test agent: ignoring unknown argument '{args[i]}'"); break;
            }
        }

        using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            Console.Error.WriteLine("test agent: SIGTERM, exiting");
            Environment.Exit(0);
        });
        using var interrupt = termOnly ? System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, context => context.Cancel = true) : null;
        var options = new Options(name, hangOnNew, loadSession, resumeSession, mcpHttp, chatty, legacyConfig, args) { InstructionsFile = instructionsFile, Minimal = minimal, SparseCapabilities = sparse, SessionClose = sessionClose, Maximal = maximal, ModelsToo = modelsToo };
        using var wire = new Wire(Console.OpenStandardOutput());
        var agent = new Agent(wire, options);

        // The stdin loop only dispatches; prompts run on their own tasks so that
        // session/cancel, session/set_mode, ... are handled while a prompt runs.
        using var stdin = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false), false, 1 << 16);
        while (stdin.ReadLine() is { } line)
        {
            Options.Record(new System.Text.Json.Nodes.JsonObject { ["in"] = line });
            agent.Dispatch(line);
        }

        wire.TryFlush();
        if (termOnly)
        {
            Console.Error.WriteLine("test agent: stdin closed, waiting for SIGTERM (--term-only)");
            Thread.Sleep(Timeout.Infinite);
        }

        return 0;
    }
}
