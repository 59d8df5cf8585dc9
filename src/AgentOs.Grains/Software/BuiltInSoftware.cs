namespace AgentOs.Software;

/// <summary>
/// The built-in agent types. Versions are pinned to combinations verified on Node 20 (see the
/// README's software table); change them together with that verification.
/// </summary>
internal static class BuiltInSoftware
{
    /// <summary>
    /// pi through pi-acp. pi-acp starts pi itself with fixed arguments, so <c>PI_ACP_PI_COMMAND</c>
    /// names a small wrapper that adds <c>--append-system-prompt &lt;file&gt;</c>. The wrapper also keeps
    /// <c>pi</c> off PATH, where pi-acp would probe it with <c>pi --version</c> and <c>npm view</c>
    /// on every session (+1.5 s).
    /// </summary>
    public static readonly SoftwarePackage Pi = new(
        NpmPackages: ["pi-acp@0.0.24", "@mariozechner/pi-coding-agent@0.73.1"],
        Lockfile: SoftwarePackage.EmbeddedLockfile("pi"),
        Agent: new AgentType(
            Name: "pi",
            Command: "node",
            Args: ["{dir}/node_modules/pi-acp/dist/index.js"],
            Env: new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["PI_ACP_PI_COMMAND"] = "{dir}/agentos-pi",
                ["PI_OFFLINE"] = "1", // no version checks or downloads at start
            })
        {
            InstructionsEnv = new Dictionary<string, string>(StringComparer.Ordinal) { ["AGENTOS_INSTRUCTIONS_FILE"] = "{file}" },
            Credentials = new Credentials(
                ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY", "GROQ_API_KEY", "XAI_API_KEY", "MISTRAL_API_KEY", "CEREBRAS_API_KEY"],
                [".pi/agent/models.json", ".pi/agent/auth.json"]),
        },
        Files: new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["agentos-pi"] = """
                #!/bin/sh
                # pi as pi-acp starts it, plus the session's instructions (written by AgentOs).
                if [ -n "$AGENTOS_INSTRUCTIONS_FILE" ] && [ -f "$AGENTOS_INSTRUCTIONS_FILE" ]; then
                  exec node "{dir}/node_modules/@mariozechner/pi-coding-agent/dist/cli.js" --append-system-prompt "$AGENTOS_INSTRUCTIONS_FILE" "$@"
                fi
                exec node "{dir}/node_modules/@mariozechner/pi-coding-agent/dist/cli.js" "$@"

                """,
        });

    /// <summary>Claude Code through Zed's adapter; instructions go in session/new <c>_meta.systemPrompt.append</c>.</summary>
    public static readonly SoftwarePackage ClaudeCode = new(
        NpmPackages: ["@zed-industries/claude-code-acp@0.16.2"],
        Lockfile: SoftwarePackage.EmbeddedLockfile("claude-code"),
        Agent: new AgentType(
            Name: "claude-code",
            Command: "node",
            Args: ["{dir}/node_modules/@zed-industries/claude-code-acp/dist/index.js"],
            Env: new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["IS_SANDBOX"] = "1", // it refuses to skip permission prompts as root otherwise
                ["DISABLE_AUTOUPDATER"] = "1",
                ["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1",
            })
        {
            InstructionsInSessionMeta = true,
            Credentials = new Credentials(["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"], [".claude/.credentials.json"]),
        });

    /// <summary>Codex through Zed's adapter (a native binary); instructions as <c>-c developer_instructions=…</c>.</summary>
    public static readonly SoftwarePackage Codex = new(
        NpmPackages: ["@zed-industries/codex-acp@0.16.0"],
        Lockfile: SoftwarePackage.EmbeddedLockfile("codex"),
        Agent: new AgentType(Name: "codex", Command: "{dir}/node_modules/.bin/codex-acp", Args: [], Env: new Dictionary<string, string>(StringComparer.Ordinal))
        {
            InstructionsArgs = ["-c", "developer_instructions={json}"],
            // config.toml: a provider of its own (a local gateway) needs no key; codex-acp asks for one only for "openai".
            Credentials = new Credentials(["OPENAI_API_KEY", "CODEX_API_KEY"], [".codex/auth.json", ".codex/config.toml"]),
        });

    /// <summary>
    /// OpenCode's own <c>acp</c> command; instructions as a file named in its inline config. Its package's postinstall
    /// script only copies the platform's binary (from an optional dependency) over a stub, and AgentOs runs no install
    /// scripts: a small wrapper makes the same choice (the AVX2 build when the CPU has it, else the baseline one).
    /// </summary>
    public static readonly SoftwarePackage OpenCode = new(
        NpmPackages: ["opencode-ai@1.18.33"],
        Lockfile: SoftwarePackage.EmbeddedLockfile("opencode"),
        Agent: new AgentType(
            Name: "opencode",
            Command: "{dir}/agentos-opencode",
            Args: ["acp"],
            Env: new Dictionary<string, string>(StringComparer.Ordinal) { ["OPENCODE_DISABLE_AUTOUPDATE"] = "1" })
        {
            InstructionsEnv = new Dictionary<string, string>(StringComparer.Ordinal) { ["OPENCODE_CONFIG_CONTENT"] = """{"instructions":[{filejson}]}""" },
            Credentials = new Credentials(
                ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY", "GEMINI_API_KEY", "GROQ_API_KEY", "XAI_API_KEY"],
                [".config/opencode/opencode.json", ".local/share/opencode/auth.json"]),
        },
        Files: new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["agentos-opencode"] = """
                #!/bin/sh
                # opencode's platform binary, chosen as its postinstall script would (AgentOs runs no install scripts).
                m="{dir}/node_modules"
                case "$(uname -m)" in
                  x86_64) if grep -qw avx2 /proc/cpuinfo 2>/dev/null; then builds="x64 x64-baseline"; else builds="x64-baseline x64"; fi ;;
                  aarch64|arm64) builds="arm64" ;;
                  *) builds="$(uname -m)" ;;
                esac
                for build in $builds; do
                  for libc in "" "-musl"; do
                    bin="$m/opencode-linux-$build$libc/bin/opencode"
                    if [ -x "$bin" ]; then exec "$bin" "$@"; fi
                  done
                done
                echo "agentos-opencode: no opencode binary for linux ($builds) under $m" >&2
                exit 127

                """,
        });

    public static IReadOnlyList<SoftwarePackage> All { get; } = [Pi, ClaudeCode, Codex, OpenCode];

    public static SoftwarePackage? Find(string name) => All.FirstOrDefault(p => p.Name == name);
}
