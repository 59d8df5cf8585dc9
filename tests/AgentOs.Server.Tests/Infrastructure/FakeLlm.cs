using System.Diagnostics;
using System.Text.Json;

namespace AgentOs.Server.Tests.Infrastructure;

/// <summary>
/// The fake OpenAI-compatible LLM (tests/fake-llm/fake-llm.mjs) as a node process on a free loopback
/// port, with what it logged: every chat request's messages, and stream lifecycle events.
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

    /// <summary>The messages of every chat request so far, oldest first (each a JSON array).</summary>
    public IReadOnlyList<JsonElement> Requests() => ReadLog("messages.jsonl").Select(e => e.GetProperty("messages")).ToList();

    /// <summary>Stream lifecycle events: <c>start</c>, <c>end</c>, <c>client_closed</c>, with the rule that answered.</summary>
    public IReadOnlyList<(string Event, string Rule)> Events() =>
        ReadLog("events.jsonl").Select(e => (e.GetProperty("event").GetString()!, e.TryGetProperty("rule", out var r) ? r.GetString() ?? "" : "")).ToList();

    /// <summary>pi's provider config for this LLM: <c>models.json</c> and <c>settings.json</c> in <paramref name="agentDirectory"/>.</summary>
    public void WritePiConfig(string agentDirectory)
    {
        Directory.CreateDirectory(agentDirectory);
        var templates = Path.Combine(TestPaths.RepositoryRoot, "tests", "fake-llm");
        File.WriteAllText(Path.Combine(agentDirectory, "models.json"),
            File.ReadAllText(Path.Combine(templates, "models.template.json")).Replace("__PORT__", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        File.Copy(Path.Combine(templates, "settings.template.json"), Path.Combine(agentDirectory, "settings.json"), overwrite: true);
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
