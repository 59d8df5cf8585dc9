using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgentOs.TestAgent;

/// <summary>Routes each stdin line: requests, notifications, and responses to our own requests.</summary>
internal sealed class Agent
{
    private readonly Wire _wire;
    private readonly Options _options;
    private readonly Scripts _scripts;
    private readonly ConcurrentDictionary<string, Session> _sessions = new();

    public Agent(Wire wire, Options options)
    {
        _wire = wire;
        _options = options;
        _scripts = new Scripts(wire, options, () => ClientCapabilitiesJson);
    }

    /// <summary>The <c>clientCapabilities</c> the client sent in <c>initialize</c>, as JSON.</summary>
    public string? ClientCapabilitiesJson { get; private set; }

    public void Dispatch(string line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            Console.Error.WriteLine("test agent: ignoring a blank line");
            return;
        }

        JsonObject? message;
        try
        {
            message = JsonNode.Parse(line) as JsonObject;
        }
        catch (JsonException e)
        {
            Console.Error.WriteLine($"test agent: ignoring malformed line ({e.Message})");
            return;
        }
        if (message is null)
        {
            Console.Error.WriteLine("test agent: ignoring a line that is not a JSON object");
            return;
        }

        var id = message["id"];
        if (Text(message, "method") is { } method)
        {
            var parameters = message["params"] as JsonObject ?? [];
            if (id is null)
            {
                OnNotification(method, parameters);
                return;
            }
            try
            {
                OnRequest(id, method, parameters);
            }
            catch (RpcError e)
            {
                _wire.RespondError(id, e.Code, e.Message);
            }
            catch (Exception e)
            {
                _wire.RespondError(id, -32603, $"Internal error: {e.Message}");
            }
        }
        else if (id is not null && (message.ContainsKey("result") || message.ContainsKey("error")))
        {
            _wire.Complete(id, message);
        }
        else
        {
            Console.Error.WriteLine("test agent: ignoring a message that is neither request, notification nor response");
        }
    }

    internal static string? Text(JsonNode? node, string property) =>
        node?[property] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private void OnNotification(string method, JsonObject parameters)
    {
        if (method == "session/cancel" && Text(parameters, "sessionId") is { } sessionId
            && _sessions.TryGetValue(sessionId, out var session))
        {
            session.CancelPrompts();
        }
    }

    private void OnRequest(JsonNode id, string method, JsonObject parameters)
    {
        switch (method)
        {
            case "initialize":
                ClientCapabilitiesJson = parameters["clientCapabilities"]?.ToJsonString();
                _wire.Respond(id, Initialize());
                break;
            case "session/new":
                NewSession(id, parameters);
                break;
            case "session/load" when _options.LoadSession:
                Restore(id, parameters, "load");
                break;
            case "session/resume" when _options.ResumeSession:
                Restore(id, parameters, "resume");
                break;
            case "session/prompt":
                Prompt(id, parameters);
                break;
            case "session/close" or "session/delete" when _options.SessionClose:
                Console.Error.WriteLine($"test agent: {method} {Text(parameters, "sessionId")}");
                _wire.Respond(id, new JsonObject());
                break;
            case "session/set_mode":
                SetMode(id, parameters);
                break;
            case "session/set_config_option" when !_options.LegacyConfig:
                SetConfigOption(id, parameters);
                break;
            case "session/set_model":
                Console.Error.WriteLine("test agent: session/set_model");
                var session = Find(parameters);
                Check(session.SetOption("model", Text(parameters, "modelId")));
                _wire.Respond(id, new JsonObject());
                break;
            default:
                throw new RpcError(-32601, $"Method not found: {method}");
        }
    }

    private JsonObject Initialize()
    {
        if (_options.Minimal)
        {
            return new JsonObject { ["protocolVersion"] = 1 };
        }

        if (_options.Maximal)
        {
            return new JsonObject
            {
                ["protocolVersion"] = 1,
                ["agentCapabilities"] = new JsonObject
                {
                    ["loadSession"] = false,
                    ["promptCapabilities"] = new JsonObject { ["image"] = true, ["audio"] = true, ["embeddedContext"] = true, ["_meta"] = Meta(), ["future"] = 1 },
                    ["mcpCapabilities"] = new JsonObject { ["http"] = true, ["sse"] = true, ["_meta"] = Meta() },
                    ["sessionCapabilities"] = new JsonObject { ["close"] = new JsonObject { ["_meta"] = Meta() }, ["delete"] = new JsonObject(), ["future"] = new JsonObject(), ["_meta"] = Meta() },
                    ["_meta"] = Meta(),
                    ["futureCapability"] = new JsonObject { ["x"] = 1 },
                },
                ["agentInfo"] = new JsonObject { ["name"] = _options.Name, ["title"] = "maximal", ["version"] = "9.9.9", ["_meta"] = Meta() },
                ["authMethods"] = new JsonArray(new JsonObject { ["id"] = "key", ["name"] = "API key", ["description"] = "an API key", ["_meta"] = Meta() }),
                ["_meta"] = Meta(),
                ["futureField"] = "a field no schema has",
            };
        }

        if (_options.SparseCapabilities)
        {
            return new JsonObject { ["protocolVersion"] = 1, ["agentCapabilities"] = new JsonObject { ["loadSession"] = false } };
        }

        var sessionCapabilities = new JsonObject();
        if (_options.ResumeSession)
        {
            sessionCapabilities["resume"] = new JsonObject();
        }

        if (_options.SessionClose)
        {
            sessionCapabilities["close"] = new JsonObject();
            sessionCapabilities["delete"] = new JsonObject();
        }
        return new JsonObject
        {
            ["protocolVersion"] = 1,
            ["agentCapabilities"] = new JsonObject
            {
                ["loadSession"] = _options.LoadSession,
                ["promptCapabilities"] = new JsonObject { ["image"] = false, ["audio"] = false, ["embeddedContext"] = true },
                ["mcpCapabilities"] = new JsonObject { ["http"] = _options.McpHttp, ["sse"] = false },
                ["sessionCapabilities"] = sessionCapabilities,
            },
            ["agentInfo"] = new JsonObject
            {
                ["name"] = _options.Name,
                ["title"] = "AgentOs scripted test agent",
                ["version"] = "1.0.0",
            },
            ["authMethods"] = new JsonArray(),
        };
    }

    private void NewSession(JsonNode id, JsonObject parameters)
    {
        if (_options.HangOnNew)
        {
            Console.Error.WriteLine("test agent: not answering session/new (--hang-on-new)");
            return;
        }
        var sessionId = "ts-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var session = Add(sessionId, parameters, "new");
        var reply = SetupReply(session);
        reply["sessionId"] = sessionId;
        _wire.Respond(id, reply);

        if (_options.Chatty)
        {
            _wire.Notify(sessionId, Scripts.MessageChunk("ready"));
            var commands = new JsonArray();
            foreach (var (name, description, hint) in Scripts.Commands)
            {
                var command = new JsonObject { ["name"] = name, ["description"] = description };
                if (hint is not null)
                {
                    command["input"] = new JsonObject { ["hint"] = hint };
                }
                commands.Add(command);
            }
            _wire.Notify(sessionId, new JsonObject
            {
                ["sessionUpdate"] = "available_commands_update",
                ["availableCommands"] = commands,
            });
        }
    }

    private void Restore(JsonNode id, JsonObject parameters, string via)
    {
        var sessionId = Text(parameters, "sessionId") ?? throw new RpcError(-32602, "missing sessionId");
        var session = Add(sessionId, parameters, via);
        if (via == "load")
        {
            _wire.Notify(sessionId, new JsonObject
            {
                ["sessionUpdate"] = "user_message_chunk",
                ["content"] = new JsonObject { ["type"] = "text", ["text"] = "restored" },
            });
        }
        _wire.Respond(id, SetupReply(session));
    }

    /// <summary>A <c>_meta</c> object as an agent vendor might send it.</summary>
    public static JsonObject Meta() => new() { ["vendor.example/trace"] = Guid.NewGuid().ToString("N"), ["nested"] = new JsonObject { ["n"] = 1 } };

    /// <summary>Modes and config options; with --legacy-config, modes and models and no config options (as pi and Claude Code do).</summary>

    private JsonObject SetupReply(Session session) => _options.Maximal
        ? new JsonObject { ["modes"] = session.ModesJson(), ["configOptions"] = session.ConfigOptionsJson(), ["_meta"] = Meta(), ["futureField"] = true }
        : _options.Minimal || _options.SparseCapabilities ? new JsonObject() : _options.LegacyConfig
        ? new JsonObject { ["modes"] = session.ModesJson(), ["models"] = session.ModelsJson() }
        : _options.ModelsToo
        ? new JsonObject { ["modes"] = session.ModesJson(), ["models"] = session.ModelsJson(), ["configOptions"] = session.ConfigOptionsJson() }
        : new JsonObject { ["modes"] = session.ModesJson(), ["configOptions"] = session.ConfigOptionsJson() };

    private Session Add(string sessionId, JsonObject parameters, string via)
    {
        var session = new Session(sessionId, Text(parameters, "cwd"), parameters["mcpServers"]?.ToJsonString(), via);
        _sessions[sessionId] = session;
        return session;
    }

    private void Prompt(JsonNode id, JsonObject parameters)
    {
        var session = Find(parameters);
        // The first text block is the user's prompt and picks the script; echo shows every block
        // (AgentOs appends restored context as a further block).
        var text = new StringBuilder();
        string? command = null;
        if (parameters["prompt"] is JsonArray blocks)
        {
            foreach (var block in blocks)
            {
                var type = Text(block, "type");
                if (type == "text")
                {
                    command ??= Text(block, "text");
                    text.Append(Text(block, "text"));
                }
                else
                {
                    // Other blocks, as echo shows them: [kind what size]
                    var what = Text(block, "mimeType") ?? Text(block, "uri") ?? Text(block?["resource"], "uri");
                    var size = (Text(block, "data") ?? Text(block?["resource"], "text") ?? Text(block, "name") ?? "").Length;
                    text.Append($"[{type} {what} {size}]");
                }
            }
        }

        // Take the token now, in stdin order, so a cancel that follows this prompt hits it.
        var token = session.PromptToken;
        var replyId = id.DeepClone();
        _ = Task.Run(async () =>
        {
            string stopReason;
            try
            {
                stopReason = await _scripts.RunAsync(session, command ?? "", text.ToString(), token);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                stopReason = "cancelled";
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"test agent: prompt failed: {e}");
                _wire.RespondError(replyId, -32603, $"Internal error: {e.Message}");
                return;
            }
            var reply = _options.Maximal
                ? new JsonObject { ["stopReason"] = stopReason, ["_meta"] = Meta(), ["futureField"] = 1 }
                : new JsonObject { ["stopReason"] = stopReason };
            if (command == "usage")
            {
                // ACP's (unstable) usage of the turn: what Claude Code's and Codex's adapters send.
                reply["usage"] = new JsonObject { ["inputTokens"] = 100, ["outputTokens"] = 20, ["totalTokens"] = 125, ["thoughtTokens"] = 5 };
            }

            _wire.Respond(replyId, reply);
        });
    }

    private void SetMode(JsonNode id, JsonObject parameters)
    {
        var session = Find(parameters);
        Check(session.SetMode(Text(parameters, "modeId")));
        _wire.Notify(session.Id, new JsonObject
        {
            ["sessionUpdate"] = "current_mode_update",
            ["currentModeId"] = session.ModeId,
        });
        _wire.Respond(id, new JsonObject());
    }

    private void SetConfigOption(JsonNode id, JsonObject parameters)
    {
        var session = Find(parameters);
        var value = parameters["value"] switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            { } other => other.ToJsonString(),
            null => null,
        };
        Check(session.SetOption(Text(parameters, "configId"), value));
        _wire.Notify(session.Id, new JsonObject
        {
            ["sessionUpdate"] = "config_option_update",
            ["configOptions"] = session.ConfigOptionsJson(),
        });
        _wire.Respond(id, new JsonObject { ["configOptions"] = session.ConfigOptionsJson() });
    }

    private Session Find(JsonObject parameters) =>
        Text(parameters, "sessionId") is { } sessionId && _sessions.TryGetValue(sessionId, out var session)
            ? session
            : throw new RpcError(-32602, "unknown session");

    private static void Check(string? error)
    {
        if (error is not null)
        {
            throw new RpcError(-32602, error);
        }
    }

    /// <summary>A JSON-RPC error to send back instead of a result.</summary>
    private sealed class RpcError(int code, string message) : Exception(message)
    {
        public int Code => code;
    }
}
