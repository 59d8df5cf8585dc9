using System.Text.Json;
using System.Text.Json.Nodes;
using AgentOs.Client;
using AgentOs.Server.Tests.Infrastructure;
using Json.Schema;

namespace AgentOs.Server.Tests;

/// <summary>
/// Issue 15: every message the host sends a real agent process, over a session that touches every method AgentOs uses,
/// is valid against the official ACP v1 schema (vendored in <c>AcpSchema/</c>), each against its own method's type.
/// </summary>
public sealed class AcpSchemaTests
{
    /// <summary>The schema type of each request or notification the host sends, by method.</summary>
    private static readonly Dictionary<string, string> Sent = new(StringComparer.Ordinal)
    {
        ["initialize"] = "InitializeRequest",
        ["session/new"] = "NewSessionRequest",
        ["session/load"] = "LoadSessionRequest",
        ["session/resume"] = "ResumeSessionRequest",
        ["session/prompt"] = "PromptRequest",
        ["session/cancel"] = "CancelNotification",
        ["session/set_mode"] = "SetSessionModeRequest",
        ["session/set_config_option"] = "SetSessionConfigOptionRequest",
        ["session/close"] = "CloseSessionRequest",
        ["session/delete"] = "DeleteSessionRequest",
    };

    /// <summary>The schema type of the host's answer to each request of the agent, by the agent's method.</summary>
    private static readonly Dictionary<string, string> Answered = new(StringComparer.Ordinal)
    {
        ["fs/read_text_file"] = "ReadTextFileResponse",
        ["fs/write_text_file"] = "WriteTextFileResponse",
        ["session/request_permission"] = "RequestPermissionResponse",
        ["terminal/create"] = "CreateTerminalResponse",
        ["terminal/output"] = "TerminalOutputResponse",
        ["terminal/wait_for_exit"] = "WaitForTerminalExitResponse",
        ["terminal/kill"] = "KillTerminalResponse",
        ["terminal/release"] = "ReleaseTerminalResponse",
        ["elicitation/create"] = "CreateElicitationResponse",
    };

    [Fact]
    public async Task EveryMessageTheHostSends_IsValidAgainstTheAcpV1Schema()
    {
        var env = TestAgents.AsEnvironment("maximal", "--maximal", "--record", "/home/agentos/acp.jsonl");
        foreach (var (key, value) in TestAgents.AsEnvironment("asking", "--maximal", "--record", "/home/agentos/acp-ask.jsonl"))
        {
            env[key] = value;
        }

        await using var server = await ServerProcess.StartAsync(env);
        await using var client = await AgentOsClient.ConnectAsync(server.ClientOptions);
        var vm = client.Vm("schema");
        var session = await vm.CreateSessionAsync("maximal");
        var png = new byte[] { 0x89, 0x50, 0x4e, 0x47 };
        await session.SendPromptAsync([PromptContent.FromText("look"), PromptContent.Image(png, "image/png"), PromptContent.Audio(png, "audio/wav"),
            PromptContent.Resource("file:///home/agentos/a.md", "# A", "text/markdown"), PromptContent.Link("file:///home/agentos/b.md", "b.md")]);
        await session.SendPromptAsync("write /home/agentos/x.txt hello");
        await session.SendPromptAsync("read /home/agentos/x.txt");
        await session.SendPromptAsync("read /home/agentos/missing.txt"); // answered with an error
        await session.SendPromptAsync("permission");
        await session.SendPromptAsync("terminal echo hi; exit 2");
        var running = (await session.SendPromptAsync("terminal-start exec sleep 60")).Text["started ".Length..];
        await session.SendPromptAsync($"terminal-output {running}");
        await session.SendPromptAsync($"terminal-kill {running}");
        await session.SendPromptAsync($"terminal-wait {running}");
        await session.SendPromptAsync($"terminal-output {running}");
        await session.SendPromptAsync($"terminal-release {running}");
        await session.SendPromptAsync($"terminal-output {running}"); // answered with an error
        await session.SendPromptAsync("""terminal-json {"command":"printf","args":["abcdef"],"outputByteLimit":2,"env":[{"name":"A","value":"1"}],"cwd":"/home/agentos"}""");
        await session.SendPromptAsync("elicit form"); // declined by the policy
        await session.SetModeAsync("plan");
        await session.SetModelAsync("smart");
        var slow = session.SendPromptAsync("sleep 10000");
        await Poll.UntilAsync(async () => (await vm.GetEventsAsync(session.SessionId)).LastOrDefault(e => e.Method == AgentOsEventMethods.Prompt)?.Params.Contains("sleep 10000", StringComparison.Ordinal) == true, "the slow turn runs");
        await session.CancelAsync();
        (await slow).StopReason.Should().Be("cancelled");
        await vm.SleepAsync();
        await session.SendPromptAsync("ping"); // resumed: a new session with the earlier conversation
        await session.CloseAsync();
        var doomed = await vm.CreateSessionAsync("maximal");
        await doomed.DestroyAsync();
        // A session whose client answers: elicitation is offered in initialize, and answered by the client.
        var asking = await vm.CreateSessionAsync("asking", new CreateSessionOptions { PermissionPolicy = PermissionPolicy.Ask });
        foreach (var (prompt, answer) in new[] { ("elicit form", ElicitationAnswer.AcceptJson("""{"name":"Ada","age":3,"tags":["a"]}""")), ("elicit url", ElicitationAnswer.Accept()), ("elicit form", ElicitationAnswer.Cancel()) })
        {
            var turn = asking.SendPromptAsync(prompt);
            await Poll.UntilAsync(async () => (await asking.GetPendingElicitationsAsync()).Count == 1, "the elicitation waits");
            await asking.RespondElicitationAsync((await asking.GetPendingElicitationsAsync()).Single().RequestId, answer);
            await turn;
        }

        await asking.CloseAsync();

        var schema = new AcpSchema(Path.Combine(AppContext.BaseDirectory, "AcpSchema", "schema-v1.21.0.json"));
        var home = Path.Combine(server.DataDirectory, "vms", "schema", "home");
        var checkedMethods = new HashSet<string>(StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var file in new[] { "acp.jsonl", "acp-ask.jsonl" })
        {
            problems.AddRange(CheckRecord(schema, await File.ReadAllLinesAsync(Path.Combine(home, file)), checkedMethods));
        }

        problems.Should().BeEmpty();
        checkedMethods.Should().Contain(["initialize", "session/new", "session/prompt", "session/cancel", "session/set_mode", "session/set_config_option",
            "session/close", "session/delete", "answer to fs/read_text_file", "answer to fs/write_text_file", "answer to session/request_permission",
            "answer to terminal/create", "answer to terminal/output", "answer to terminal/wait_for_exit", "answer to terminal/kill", "answer to terminal/release",
            "answer to elicitation/create"]);
    }

    /// <summary>Checks each line the host sent one agent process (its <c>--record</c> file) against the schema; adds what it checked to <paramref name="checkedMethods"/>.</summary>
    private static List<string> CheckRecord(AcpSchema schema, string[] record, HashSet<string> checkedMethods)
    {
        var requests = new Dictionary<long, string>();
        var problems = new List<string>();
        foreach (var entry in record.Select(l => JsonNode.Parse(l)!.AsObject()))
        {
            if (entry["request"] is { } id)
            {
                requests[id.GetValue<long>()] = entry["method"]!.GetValue<string>();
                continue;
            }

            var message = JsonNode.Parse(entry["in"]!.GetValue<string>())!.AsObject();
            if (message["method"]?.GetValue<string>() is { } method)
            {
                if (method == "initialize")
                {
                    requests.Clear(); // a new agent process: its request ids start again
                }

                if (!Sent.TryGetValue(method, out var type))
                {
                    problems.Add($"the host sent {method}, which this test does not know");
                    continue;
                }

                checkedMethods.Add(method);
                problems.AddRange(schema.Check(type, message["params"], $"{method} params"));
            }
            else if (message["id"] is { } answered && requests.TryGetValue(answered.GetValue<long>(), out var asked))
            {
                checkedMethods.Add($"answer to {asked}");
                problems.AddRange(message["error"] is { } error
                    ? schema.Check("Error", error, $"error answering {asked}")
                    : schema.Check(Answered[asked], message["result"], $"answer to {asked}"));
            }
        }

        return problems;
    }

    /// <summary>The vendored schema; each type is checked through the document with its root pointed at that <c>$defs</c> entry (each built in a registry of its own).</summary>
    private sealed class AcpSchema(string path)
    {
        private readonly JsonObject _document = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        private readonly Dictionary<string, JsonSchema> _types = new(StringComparer.Ordinal);

        public IEnumerable<string> Check(string type, JsonNode? value, string what)
        {
            if (!_types.TryGetValue(type, out var schema))
            {
                var rooted = (JsonObject)_document.DeepClone();
                rooted.Remove("anyOf");
                rooted["$ref"] = $"#/$defs/{type}";
                schema = _types[type] = JsonSchema.FromText(rooted.ToJsonString(), new BuildOptions { SchemaRegistry = new SchemaRegistry() }, new Uri($"https://agentos.test/acp/v1/{type}"));
            }

            var result = schema.Evaluate(JsonSerializer.SerializeToElement(value), new EvaluationOptions { OutputFormat = OutputFormat.List });
            if (result.IsValid)
            {
                return [];
            }

            var errors = (result.Details ?? []).Where(d => d.Errors is { Count: > 0 }).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")).Take(5);
            var json = value?.ToJsonString() ?? "null";
            return [$"{what} is not a valid {type}: {string.Join("; ", errors)} ({json[..Math.Min(300, json.Length)]})"];
        }
    }
}
