using System.Diagnostics;
using System.Text.Json;

namespace AgentOs.Server.Tests.Infrastructure;

/// <summary>
/// The fake LLM (tests/fake-llm/fake-llm.mjs: OpenAI chat completions and Responses, Anthropic Messages) as a node
/// process on a free loopback port, with what it logged: every LLM request's conversation, and stream lifecycle events.
/// </summary>
public sealed class FakeLlm : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TempDirectory _logs;

    private FakeLlm(Process process, TempDirectory logs, int port)
    {
        _process = process;
        _logs = logs;
        Port = port;
    }

    public int Port { get; }

    public static async Task<FakeLlm> StartAsync()
    {
        var logs = new TempDirectory("fake-llm");
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(TestPaths.RepositoryRoot, "tests", "fake-llm", "fake-llm.mjs"));
        start.ArgumentList.Add("0");
        start.ArgumentList.Add(logs.Path);
        var process = Process.Start(start) ?? throw new InvalidOperationException("node could not be started");
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TestTimeouts.Default);
        if (line is null || !line.StartsWith("LISTENING ", StringComparison.Ordinal))
        {
            process.Kill();
            throw new InvalidOperationException($"The fake LLM did not start: {line} {await process.StandardError.ReadToEndAsync()}");
        }

        return new FakeLlm(process, logs, int.Parse(line["LISTENING ".Length..], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The conversation of every LLM request so far, oldest first, as its API carries it (chat and Anthropic <c>messages</c>, Responses <c>input</c>).</summary>
    public IReadOnlyList<JsonElement> Requests() => ReadLog("messages.jsonl").Select(e => e.GetProperty("messages")).ToList();

    /// <summary>Every LLM request so far, oldest first: which API it came in on, the rule that answered, its conversation as JSON.</summary>
    public IReadOnlyList<LlmRequest> Log() =>
        ReadLog("messages.jsonl").Select(e => new LlmRequest(e.GetProperty("api").GetString()!, e.GetProperty("rule").GetString()!, e.GetProperty("messages").GetRawText())).ToList();

    /// <summary>Stream lifecycle events: <c>start</c>, <c>end</c>, <c>client_closed</c>, with the rule that answered.</summary>
    public IReadOnlyList<(string Event, string Rule)> Events() =>
        ReadLog("events.jsonl").Select(e => (e.GetProperty("event").GetString()!, e.TryGetProperty("rule", out var r) ? r.GetString() ?? "" : "")).ToList();

    /// <summary>
    /// Points a built-in agent at this LLM, the way a user would provision a VM for a local gateway: writes the agent's
    /// config into the VM's home (<paramref name="home"/> on the host) and returns the session's <c>Env</c>. No real
    /// key, nothing the agent needs from the internet (see tests/fake-llm/README.md).
    /// </summary>
    public IReadOnlyDictionary<string, string> Provision(string agentType, string home)
    {
        var port = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        switch (agentType)
        {
            case "pi":
                WritePiConfig(Path.Combine(home, ".pi", "agent"));
                return new Dictionary<string, string>();
            case "claude-code":
                // Its Anthropic client reads these; the built-in type already turns off telemetry and updates.
                return new Dictionary<string, string> { ["ANTHROPIC_BASE_URL"] = $"http://127.0.0.1:{port}", ["ANTHROPIC_API_KEY"] = "fake-key" };
            case "codex":
                Template("codex-config.template.toml", Path.Combine(home, ".codex", "config.toml"));
                Template("codex-models.json", Path.Combine(home, ".codex", "fake-models.json"));
                return new Dictionary<string, string>();
            case "opencode":
                var config = Path.Combine(home, ".config", "opencode");
                Template("opencode.template.json", Path.Combine(config, "opencode.json"));
                // opencode installs its plugin SDK into its config folder from npm at every start, unless the folder
                // already has it on record: a lockfile naming it and a node_modules folder.
                Directory.CreateDirectory(Path.Combine(config, "node_modules"));
                File.WriteAllText(Path.Combine(config, "package.json"), """{"dependencies":{"@opencode-ai/plugin":"*"}}""");
                File.WriteAllText(Path.Combine(config, "package-lock.json"), """{"lockfileVersion":3,"packages":{"":{"dependencies":{"@opencode-ai/plugin":"*"}}}}""");
                return new Dictionary<string, string> { ["OPENCODE_DISABLE_MODELS_FETCH"] = "1" }; // no models.dev at start
            default:
                throw new ArgumentException($"No provisioning for agent type '{agentType}'.", nameof(agentType));
        }
    }

    /// <summary>pi's provider config for this LLM: <c>models.json</c> and <c>settings.json</c> in <paramref name="agentDirectory"/>.</summary>
    public void WritePiConfig(string agentDirectory)
    {
        Template("models.template.json", Path.Combine(agentDirectory, "models.json"));
        Template("settings.template.json", Path.Combine(agentDirectory, "settings.json"));
    }

    /// <summary>A file of tests/fake-llm with this LLM's port in place of <c>__PORT__</c>.</summary>
    private void Template(string name, string destination)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        var text = File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "tests", "fake-llm", name));
        File.WriteAllText(destination, text.Replace("__PORT__", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
    }

    private List<JsonElement> ReadLog(string name)
    {
        var path = Path.Combine(_logs.Path, name);
        if (!File.Exists(path))
        {
            return [];
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var result = new List<JsonElement>();
        while (reader.ReadLine() is { Length: > 0 } line)
        {
            result.Add(JsonDocument.Parse(line).RootElement.Clone());
        }

        return result;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        _logs.Dispose();
    }
}

/// <summary>One request the fake LLM answered: its API (<c>chat</c>, <c>anthropic</c>, <c>responses</c>), the rule, the conversation as JSON.</summary>
public sealed record LlmRequest(string Api, string Rule, string Conversation);
