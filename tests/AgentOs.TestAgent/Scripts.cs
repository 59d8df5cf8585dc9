using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace AgentOs.TestAgent;

/// <summary>The prompt scripts: the first word of the prompt text picks one (see README.md).</summary>
internal sealed class Scripts(Wire wire, Options options, Func<string?> clientCapabilitiesJson)
{
    private const string EndTurn = "end_turn";
    private const string Cancelled = "cancelled";

    /// <summary>Numbers the tool calls of <c>terminal-tool</c>, so each is a card of its own.</summary>
    private int _terminalToolCalls;

    /// <summary>Three lines that are not JSON.</summary>
    public static ReadOnlySpan<byte> Garbage => "this is not json\n<<< garbage >>>\n{ \"broken\": \n"u8;

    /// <summary>Advertised by <c>--chatty</c> in <c>available_commands_update</c>.</summary>
    public static readonly (string Name, string Description, string? Hint)[] Commands =
    [
        ("chunks", "Stream N message chunks", "N"),
        ("sleep", "Tick every 100 ms for MS milliseconds", "MS"),
        ("permission", "Ask the client for permission", null),
        ("info", "Describe the session", null),
    ];

    private static string Try(Func<string> action)
    {
        try
        {
            return action();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return $"failed: {ex.GetType().Name}: {ex.Message}";
        }
    }

    /// <summary>Runs <c>/bin/sh -c</c> and returns its exit code, stdout and stderr.</summary>
    private static async Task<string> ShellAsync(string command, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(command);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return $"exit {process.ExitCode}\n{await stdout}{await stderr}".TrimEnd();
    }

    public static JsonObject MessageChunk(string text) => Chunk("agent_message_chunk", text);

    /// <summary>Runs the script named by the first word of <paramref name="command"/> and returns the stop reason; echo repeats <paramref name="text"/> (every text block).</summary>
    public async Task<string> RunAsync(Session session, string command, string text, CancellationToken cancellationToken)
    {
        (command, var rest) = SplitWord(command);
        switch (command)
        {
            case "chunks" when int.TryParse(rest, CultureInfo.InvariantCulture, out var count):
                return wire.SendChunks(session.Id, count, cancellationToken) ? EndTurn : Cancelled;
            case "chunks-gate" when SplitWord(rest) is var (first, gateFile) && int.TryParse(first, CultureInfo.InvariantCulture, out var half) && gateFile.Trim().Length > 0:
                // N chunks, a wait for the gate file, N chunks more: a turn that is running, and quiet, while the test acts.
                if (!wire.SendChunks(session.Id, half, cancellationToken))
                {
                    return Cancelled;
                }

                while (!File.Exists(gateFile.Trim()))
                {
                    await Task.Delay(10, cancellationToken);
                }

                return wire.SendChunks(session.Id, half, cancellationToken) ? EndTurn : Cancelled;
            case "chunks-until" when rest.Trim().Length > 0:
                // Streams batches of chunks until the gate file exists: the turn is certainly running
                // for as long as the test wants, with events flowing the whole time.
                var gate = rest.Trim();
                while (!File.Exists(gate))
                {
                    if (!wire.SendChunks(session.Id, 200, cancellationToken))
                    {
                        return Cancelled;
                    }
                }
                return EndTurn;
            case "sleep" when int.TryParse(rest, CultureInfo.InvariantCulture, out var ms):
                await TickAsync(session, ms, cancellationToken);
                break;
            case "ignore-cancel" when int.TryParse(rest, CultureInfo.InvariantCulture, out var ms):
                await TickAsync(session, ms, CancellationToken.None);
                break;
            case "ignore-cancel-until" when rest.Trim().Length > 0:
                // Ignores session/cancel and ticks until the gate file exists: a late end_turn exactly when the test wants it.
                while (!File.Exists(rest.Trim()))
                {
                    await TickAsync(session, 100, CancellationToken.None);
                }
                break;
            case "crash":
                var code = int.TryParse(rest, CultureInfo.InvariantCulture, out var parsed) ? parsed : 42;
                wire.Flush();
                Console.Error.WriteLine("test agent: crashing as asked");
                Console.Error.Flush();
                Environment.Exit(code);
                break;
            case "garbage":
                wire.WriteRaw(Garbage);
                Say(session, "after garbage");
                break;
            case "stderr":
                Console.Error.WriteLine(rest.ReplaceLineEndings(" "));
                Say(session, "wrote stderr");
                break;
            case "env":
                Say(session, Environment.GetEnvironmentVariable(rest.Trim()) ?? "<unset>");
                break;
            case "cwd":
                Say(session, Environment.CurrentDirectory);
                break;
            case "instructions":
                // What the server handed over: the --instructions-file content, else the env variable.
                Say(session, options.InstructionsFile is { } file
                    ? File.Exists(file) ? File.ReadAllText(file) : $"<missing {file}>"
                    : Environment.GetEnvironmentVariable("AGENTOS_TEST_INSTRUCTIONS") ?? "<none>");
                break;
            case "cat":
                // The agent's own file access (not fs/*), as a real agent's tools do it.
                Say(session, Try(() => File.ReadAllText(rest.Trim())));
                break;
            case "sh":
                Say(session, await ShellAsync(rest, cancellationToken));
                break;
            case "syscall":
                // A raw system call, as an exploit would make it: "syscall NR [ARG…]" says "RESULT errno N".
                Say(session, RawSyscall.Call(rest));
                break;
            case "info":
                Say(session, Info(session));
                break;
            case "switch-mode":
                // The agent changes its own mode (as agents do on their own, e.g. leaving plan mode).
                Say(session, session.SetMode(rest.Trim()) ?? "switched");
                wire.Notify(session.Id, new JsonObject { ["sessionUpdate"] = "current_mode_update", ["currentModeId"] = session.ModeId });
                break;
            case "switch-option":
                var (optionId, optionValue) = SplitWord(rest);
                Say(session, session.SetOption(optionId, optionValue.Trim()) ?? "switched");
                wire.Notify(session.Id, new JsonObject { ["sessionUpdate"] = "config_option_update", ["configOptions"] = session.ConfigOptionsJson() });
                break;
            case "thought":
                wire.Notify(session.Id, Chunk("agent_thought_chunk", rest));
                Say(session, "done thinking");
                break;
            case "tool":
                wire.Notify(session.Id, new JsonObject
                {
                    ["sessionUpdate"] = "tool_call",
                    ["toolCallId"] = "call_1",
                    ["title"] = "Read file",
                    ["kind"] = "read",
                    ["status"] = "pending",
                });
                wire.Notify(session.Id, new JsonObject
                {
                    ["sessionUpdate"] = "tool_call_update",
                    ["toolCallId"] = "call_1",
                    ["status"] = "completed",
                });
                Say(session, "tool done");
                break;
            case "permission":
                return await PermissionAsync(session, rest, cancellationToken);
            case "write":
                var (path, content) = SplitWord(rest);
                var written = await wire.RequestAsync("fs/write_text_file", new JsonObject
                {
                    ["sessionId"] = session.Id,
                    ["path"] = path,
                    ["content"] = content,
                }, cancellationToken);
                Say(session, Failure(written) is { } writeError ? $"write failed: {writeError}" : $"wrote {path}");
                break;
            case "read":
                var read = await wire.RequestAsync("fs/read_text_file", new JsonObject
                {
                    ["sessionId"] = session.Id,
                    ["path"] = rest.Trim(),
                }, cancellationToken);
                Say(session, Failure(read) is { } readError
                    ? $"read failed: {readError}"
                    : Agent.Text(read["result"], "content") ?? "");
                break;
            case "read-digest":
                // fs/read_text_file, then what arrived: "<characters> <sha256 of its UTF-8>", not the content.
                var whole = await wire.RequestAsync("fs/read_text_file", new JsonObject { ["sessionId"] = session.Id, ["path"] = rest.Trim() }, cancellationToken);
                var got = Agent.Text(whole["result"], "content") ?? "";
                Say(session, Failure(whole) is { } digestError
                    ? $"read failed: {digestError}"
                    : $"{got.Length} {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(got)))}");
                break;
            case "write-big":
                // fs/write_text_file of N 'y' characters (a file larger than a prompt should carry).
                var (bigPath, countText) = SplitWord(rest);
                var bigWritten = await wire.RequestAsync("fs/write_text_file", new JsonObject
                {
                    ["sessionId"] = session.Id,
                    ["path"] = bigPath,
                    ["content"] = new string('y', int.Parse(countText.Trim(), CultureInfo.InvariantCulture)),
                }, cancellationToken);
                Say(session, Failure(bigWritten) is { } bigError ? $"write failed: {bigError}" : $"wrote {bigPath}");
                break;
            case "terminal":
                // A shell command line through the client's terminal: create, wait for exit, read the output, release.
                Say(session, await TerminalRunAsync(session, new JsonObject { ["command"] = rest }, cancellationToken));
                break;
            case "terminal-tool":
                // The same command line as a coding agent runs one: in a tool call whose content references the terminal.
                return await TerminalToolAsync(session, rest, cancellationToken);
            case "terminal-json":
                // terminal/create with these params (sessionId added), then as "terminal".
                Say(session, await TerminalRunAsync(session, JsonNode.Parse(rest)!.AsObject(), cancellationToken));
                break;
            case "terminal-start":
                // terminal/create of a command line (or of JSON params), left running: chunk "started <terminalId>".
                var startParams = rest.TrimStart().StartsWith('{') ? JsonNode.Parse(rest)!.AsObject() : new JsonObject { ["command"] = rest };
                startParams["sessionId"] = session.Id;
                var started = await wire.RequestAsync("terminal/create", startParams, cancellationToken);
                Say(session, Failure(started) is { } startError ? $"terminal failed: {startError}" : $"started {Agent.Text(started["result"], "terminalId")}");
                break;
            case "terminal-output" or "terminal-wait" or "terminal-kill" or "terminal-release":
                // The other terminal methods on a terminal by id: chunk the result's JSON, or "error CODE MESSAGE".
                var answer = await wire.RequestAsync(command.Replace("terminal-", "terminal/", StringComparison.Ordinal).Replace("wait", "wait_for_exit", StringComparison.Ordinal),
                    new JsonObject { ["sessionId"] = session.Id, ["terminalId"] = rest.Trim() }, cancellationToken);
                Say(session, Failure(answer) is { } terminalError ? $"error {terminalError}" : answer["result"]?.ToJsonString() ?? "null");
                break;
            case "elicit":
                var (elicitMode, elicitUrl) = SplitWord(rest);
                return await ElicitAsync(session, elicitMode, elicitUrl.Trim(), cancellationToken);
            case "title":
                // session_info_update: "title TEXT" sets it, "title" alone sends only updatedAt (the title stays), "title-null" clears it.
                var info = new JsonObject { ["sessionUpdate"] = "session_info_update", ["updatedAt"] = DateTimeOffset.UtcNow.ToString("O") };
                if (rest.Trim().Length > 0)
                {
                    info["title"] = rest.Trim();
                }

                wire.Notify(session.Id, info);
                Say(session, "titled");
                break;
            case "title-null":
                wire.Notify(session.Id, new JsonObject { ["sessionUpdate"] = "session_info_update", ["title"] = null });
                Say(session, "untitled");
                break;
            case "unknown-request":
                var unknown = await wire.RequestAsync("_test/unknown", [], cancellationToken);
                var errorCode = unknown["error"]?["code"]?.ToJsonString() ?? "none";
                Say(session, $"unknown-request: {errorCode}");
                break;
            case "slow-reply" when int.TryParse(rest, CultureInfo.InvariantCulture, out var ms):
                await Task.Delay(ms, cancellationToken);
                break;
            case "alloc" when int.TryParse(rest, CultureInfo.InvariantCulture, out var mib):
                // Native memory, touched page by page (the GC's own limit does not see it): past a memory limit the
                // kernel's OOM killer takes this process.
                for (var i = 0; i < mib; i++)
                {
                    var block = System.Runtime.InteropServices.Marshal.AllocHGlobal(1024 * 1024);
                    unsafe
                    {
                        var bytes = (byte*)block;
                        for (var offset = 0; offset < 1024 * 1024; offset += 4096)
                        {
                            bytes[offset] = 1;
                        }
                    }
                }

                Say(session, $"allocated {mib} MiB");
                break;
            case "usage":
                // The context window and the session's cost so far (usage_update); the turn's tokens go in the prompt answer.
                wire.Notify(session.Id, new JsonObject
                {
                    ["sessionUpdate"] = "usage_update",
                    ["used"] = 1200 * (++session.UsageTurns),
                    ["size"] = 200_000,
                    ["cost"] = new JsonObject { ["amount"] = 0.25 * session.UsageTurns, ["currency"] = "USD" },
                });
                Say(session, "used");
                break;
            case "future":
                // What a newer agent may send: an update kind, a notification and an extension method the host does not know.
                wire.Notify(session.Id, new JsonObject { ["sessionUpdate"] = "future_kind", ["x"] = 1, ["_meta"] = Agent.Meta() });
                wire.WriteRaw(System.Text.Encoding.UTF8.GetBytes($"{{\"jsonrpc\":\"2.0\",\"method\":\"session/future_notification\",\"params\":{{\"sessionId\":\"{session.Id}\",\"_meta\":{{}}}}}}\n"));
                wire.WriteRaw("{\"jsonrpc\":\"2.0\",\"method\":\"_vendor.example/announce\",\"params\":{\"a\":1}}\n"u8);
                wire.Notify(session.Id, new JsonObject
                {
                    ["sessionUpdate"] = "agent_message_chunk",
                    ["content"] = new JsonObject { ["type"] = "text", ["text"] = "after the future", ["annotations"] = new JsonObject { ["priority"] = 1 }, ["_meta"] = Agent.Meta() },
                    ["_meta"] = Agent.Meta(),
                    ["messageId"] = "m-1",
                });
                break;
            case "edit" when SplitWord(rest) is var (editPath, editText) && editPath.Length > 0:
                return await EditAsync(session, editPath, editText, cancellationToken);
            case "transcript" when int.TryParse(rest, CultureInfo.InvariantCulture, out var events):
                return Transcript(session, events, cancellationToken) ? EndTurn : Cancelled;
            case "big" when int.TryParse(rest, CultureInfo.InvariantCulture, out var length):
                Say(session, new string('x', length));
                break;
            default:
                Say(session, $"echo: {text}");
                break;
        }
        return EndTurn;
    }

    /// <summary>A "tick " chunk every 100 ms until <paramref name="ms"/> have passed.</summary>
    private async Task TickAsync(Session session, int ms, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        for (long due = 0; due < ms; due += 100)
        {
            var wait = due - clock.ElapsedMilliseconds;
            if (wait > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(wait), cancellationToken);
            }
            cancellationToken.ThrowIfCancellationRequested();
            Say(session, "tick ");
        }
        var left = ms - clock.ElapsedMilliseconds;
        if (left > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(left), cancellationToken);
        }
    }

    /// <summary>
    /// Asks for permission and waits for the client's answer, as ACP agents do: after <c>session/cancel</c>
    /// the client must answer a pending request with <c>cancelled</c>, and the turn then ends <c>cancelled</c>.
    /// The options are <paramref name="kinds"/> (ids = kinds), or allow (allow_once) and reject (reject_once).
    /// </summary>
    private async Task<string> PermissionAsync(Session session, string kinds, CancellationToken cancellationToken)
    {
        var options = new JsonArray();
        var requested = kinds.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (requested.Length == 0)
        {
            options.Add(new JsonObject { ["optionId"] = "allow", ["name"] = "Allow", ["kind"] = "allow_once" });
            options.Add(new JsonObject { ["optionId"] = "reject", ["name"] = "Reject", ["kind"] = "reject_once" });
        }
        foreach (var kind in requested)
        {
            options.Add(new JsonObject { ["optionId"] = kind, ["name"] = kind, ["kind"] = kind });
        }

        var response = await wire.RequestAsync("session/request_permission", new JsonObject
        {
            ["sessionId"] = session.Id,
            ["toolCall"] = new JsonObject { ["toolCallId"] = "perm_1", ["title"] = "Write file", ["kind"] = "edit" },
            ["options"] = options,
        }, CancellationToken.None);

        var outcome = response["result"]?["outcome"];
        Say(session, response["error"] is { } error
            ? $"permission: error {error["code"]?.ToJsonString()}"
            : Agent.Text(outcome, "outcome") == "selected"
                ? $"permission: {Agent.Text(outcome, "optionId")}"
                : "permission: cancelled");
        return cancellationToken.IsCancellationRequested ? Cancelled : EndTurn;
    }

    /// <summary>terminal/create with <paramref name="parameters"/>, then wait_for_exit, output and release: "exit CODE" or "signal NAME", " truncated" when it was, a newline, the output.</summary>
    private async Task<string> TerminalRunAsync(Session session, JsonObject parameters, CancellationToken cancellationToken)
    {
        parameters["sessionId"] = session.Id;
        var created = await wire.RequestAsync("terminal/create", parameters, cancellationToken);
        if (Failure(created) is { } createError)
        {
            return $"terminal failed: {createError}";
        }

        var terminal = new JsonObject { ["sessionId"] = session.Id, ["terminalId"] = Agent.Text(created["result"], "terminalId") };
        var exited = await wire.RequestAsync("terminal/wait_for_exit", (JsonObject)terminal.DeepClone(), cancellationToken);
        var output = await wire.RequestAsync("terminal/output", (JsonObject)terminal.DeepClone(), cancellationToken);
        var released = await wire.RequestAsync("terminal/release", (JsonObject)terminal.DeepClone(), cancellationToken);
        if ((Failure(exited) ?? Failure(output) ?? Failure(released)) is { } error)
        {
            return $"terminal failed: {error}";
        }

        var status = exited["result"];
        var how = status?["exitCode"] is { } code ? $"exit {code.ToJsonString()}" : $"signal {Agent.Text(status, "signal")}";
        var truncated = output["result"]?["truncated"]?.GetValue<bool>() == true ? " truncated" : "";
        return $"{how}{truncated}\n{Agent.Text(output["result"], "output")}";
    }

    /// <summary>
    /// A shell command line run as coding agents run one (Claude Code, Codex): a <c>tool_call</c> (kind <c>execute</c>), then
    /// <c>terminal/create</c>, a <c>tool_call_update</c> whose content is the terminal (<c>{ "type": "terminal", "terminalId" }</c>, for
    /// the client to show its output), <c>terminal/wait_for_exit</c>, the tool call completed (exit 0) or failed, <c>terminal/release</c>;
    /// chunk "ran: exit CODE" (or "ran: signal NAME"), never the output itself, or "terminal failed: …".
    /// </summary>
    private async Task<string> TerminalToolAsync(Session session, string commandLine, CancellationToken cancellationToken)
    {
        var toolCallId = $"call_terminal_{Interlocked.Increment(ref _terminalToolCalls)}";
        wire.Notify(session.Id, new JsonObject
        {
            ["sessionUpdate"] = "tool_call",
            ["toolCallId"] = toolCallId,
            ["title"] = commandLine,
            ["kind"] = "execute",
            ["status"] = "pending",
            ["rawInput"] = new JsonObject { ["command"] = commandLine },
        });
        var created = await wire.RequestAsync("terminal/create", new JsonObject { ["sessionId"] = session.Id, ["command"] = commandLine }, cancellationToken);
        if (Failure(created) is { } createError)
        {
            wire.Notify(session.Id, new JsonObject { ["sessionUpdate"] = "tool_call_update", ["toolCallId"] = toolCallId, ["status"] = "failed" });
            Say(session, $"terminal failed: {createError}");
            return EndTurn;
        }

        var terminalId = Agent.Text(created["result"], "terminalId");
        wire.Notify(session.Id, new JsonObject
        {
            ["sessionUpdate"] = "tool_call_update",
            ["toolCallId"] = toolCallId,
            ["status"] = "in_progress",
            ["content"] = new JsonArray(new JsonObject { ["type"] = "terminal", ["terminalId"] = terminalId }),
        });
        var terminal = new JsonObject { ["sessionId"] = session.Id, ["terminalId"] = terminalId };
        var exited = await wire.RequestAsync("terminal/wait_for_exit", (JsonObject)terminal.DeepClone(), cancellationToken);
        var status = exited["result"];
        wire.Notify(session.Id, new JsonObject
        {
            ["sessionUpdate"] = "tool_call_update",
            ["toolCallId"] = toolCallId,
            ["status"] = status?["exitCode"]?.GetValue<int>() == 0 ? "completed" : "failed",
        });
        await wire.RequestAsync("terminal/release", terminal, cancellationToken);
        Say(session, Failure(exited) is { } error ? $"terminal failed: {error}"
            : status?["exitCode"] is { } code ? $"ran: exit {code.ToJsonString()}" : $"ran: signal {Agent.Text(status, "signal")}");
        return EndTurn;
    }

    /// <summary>
    /// elicitation/create, "form" (name, age, color, tags; name required) or "url" (sign in at <paramref name="url"/>, by default
    /// https://auth.example.com/login?session=1; after an accept, the elicitation/complete notification): chunk
    /// "elicit: ACTION CONTENT" or "elicit: error CODE". Ends cancelled after session/cancel.
    /// </summary>
    private async Task<string> ElicitAsync(Session session, string mode, string url, CancellationToken cancellationToken)
    {
        var request = new JsonObject { ["sessionId"] = session.Id, ["mode"] = mode == "url" ? "url" : "form" };
        if (mode == "url")
        {
            request["message"] = "Sign in to the example service";
            request["url"] = url.Length > 0 ? url : "https://auth.example.com/login?session=1";
            request["elicitationId"] = "el-1";
        }
        else
        {
            request["message"] = "Who are you?";
            request["toolCallId"] = "call_1";
            request["requestedSchema"] = new JsonObject
            {
                ["type"] = "object",
                ["properties"] = new JsonObject
                {
                    ["name"] = new JsonObject { ["type"] = "string", ["title"] = "Name" },
                    ["age"] = new JsonObject { ["type"] = "integer", ["minimum"] = 0 },
                    ["color"] = new JsonObject { ["type"] = "string", ["enum"] = new JsonArray("red", "green") },
                    ["tags"] = new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["type"] = "string" } },
                },
                ["required"] = new JsonArray("name"),
            };
        }

        var response = await wire.RequestAsync("elicitation/create", request, CancellationToken.None);
        var result = response["result"];
        var action = Agent.Text(result, "action");
        if (mode == "url" && action == "accept")
        {
            wire.WriteRaw(System.Text.Encoding.UTF8.GetBytes("{\"jsonrpc\":\"2.0\",\"method\":\"elicitation/complete\",\"params\":{\"elicitationId\":\"el-1\"}}\n"));
        }

        Say(session, response["error"] is { } error
            ? $"elicit: error {error["code"]?.ToJsonString()}"
            : $"elicit: {action} {result?["content"]?.ToJsonString() ?? ""}".TrimEnd());
        return cancellationToken.IsCancellationRequested ? Cancelled : EndTurn;
    }

    /// <summary>
    /// An edit as coding agents make one: a <c>tool_call</c> (kind <c>edit</c>) carrying the diff, a permission request for it,
    /// then, when allowed, <c>fs/write_text_file</c> and the tool call completed; when not, the tool call failed.
    /// </summary>
    private async Task<string> EditAsync(Session session, string path, string text, CancellationToken cancellationToken)
    {
        var oldText = Try(() => File.Exists(path) ? File.ReadAllText(path) : "");
        var toolCall = new JsonObject { ["toolCallId"] = "edit_1", ["title"] = $"Edit {path}", ["kind"] = "edit" };
        wire.Notify(session.Id, new JsonObject
        {
            ["sessionUpdate"] = "tool_call",
            ["toolCallId"] = "edit_1",
            ["title"] = $"Edit {path}",
            ["kind"] = "edit",
            ["status"] = "pending",
            ["locations"] = new JsonArray(new JsonObject { ["path"] = path }),
            ["content"] = new JsonArray(new JsonObject { ["type"] = "diff", ["path"] = path, ["oldText"] = oldText.Length == 0 ? null : oldText, ["newText"] = text }),
        });
        var answer = await wire.RequestAsync("session/request_permission", new JsonObject
        {
            ["sessionId"] = session.Id,
            ["toolCall"] = toolCall,
            ["options"] = new JsonArray(
                new JsonObject { ["optionId"] = "allow", ["name"] = "Allow", ["kind"] = "allow_once" },
                new JsonObject { ["optionId"] = "reject", ["name"] = "Reject", ["kind"] = "reject_once" }),
        }, CancellationToken.None);
        var outcome = answer["result"]?["outcome"];
        var allowed = Agent.Text(outcome, "outcome") == "selected" && Agent.Text(outcome, "optionId") == "allow";
        string said;
        if (allowed)
        {
            var written = await wire.RequestAsync("fs/write_text_file", new JsonObject { ["sessionId"] = session.Id, ["path"] = path, ["content"] = text }, CancellationToken.None);
            said = Failure(written) is { } error ? $"edit failed: {error}" : $"edited {path}";
            allowed = Failure(written) is null;
        }
        else
        {
            said = "edit rejected";
        }

        wire.Notify(session.Id, new JsonObject { ["sessionUpdate"] = "tool_call_update", ["toolCallId"] = "edit_1", ["status"] = allowed ? "completed" : "failed" });
        Say(session, said);
        return cancellationToken.IsCancellationRequested ? Cancelled : EndTurn;
    }

    /// <summary>
    /// <paramref name="count"/> updates of a long working session, in groups of eight: a thought, a message chunk, a tool call
    /// with two updates (the last with output), two more message chunks and a plan. False when cancelled part way.
    /// </summary>
    private bool Transcript(Session session, int count, CancellationToken cancellationToken)
    {
        for (var i = 0; i < count; i++)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return false;
            }

            var step = i / 8 + 1;
            var id = $"t-{step}";
            wire.Notify(session.Id, (i % 8) switch
            {
                0 => Chunk("agent_thought_chunk", $"Thinking about step {step}."),
                1 => MessageChunk($"Step **{step}**: reading `file-{step}.txt`.\n"),
                2 => new JsonObject { ["sessionUpdate"] = "tool_call", ["toolCallId"] = id, ["title"] = $"Read file-{step}.txt", ["kind"] = "read", ["status"] = "pending" },
                3 => new JsonObject { ["sessionUpdate"] = "tool_call_update", ["toolCallId"] = id, ["status"] = "in_progress" },
                4 => new JsonObject
                {
                    ["sessionUpdate"] = "tool_call_update",
                    ["toolCallId"] = id,
                    ["status"] = "completed",
                    ["content"] = new JsonArray(new JsonObject { ["type"] = "content", ["content"] = new JsonObject { ["type"] = "text", ["text"] = $"line 1 of file-{step}\nline 2" } }),
                },
                5 => MessageChunk($"Done with step {step}. "),
                6 => MessageChunk("Next.\n"),
                _ => new JsonObject
                {
                    ["sessionUpdate"] = "plan",
                    ["entries"] = new JsonArray(
                        new JsonObject { ["content"] = $"Step {step}", ["priority"] = "medium", ["status"] = "completed" },
                        new JsonObject { ["content"] = $"Step {step + 1}", ["priority"] = "medium", ["status"] = "pending" }),
                },
            });
        }

        return true;
    }

    private string Info(Session session)
    {
        var args = new JsonArray();
        foreach (var arg in options.Args)
        {
            args.Add(arg);
        }
        return new JsonObject
        {
            ["cwd"] = session.Cwd,
            ["mcpServers"] = session.McpServersJson is { } mcp ? JsonNode.Parse(mcp) : null,
            ["args"] = args,
            ["restoredVia"] = session.RestoredVia,
            ["modeId"] = session.ModeId,
            ["model"] = session.Model,
            ["thoughtLevel"] = session.ThoughtLevel,
            ["clientCapabilities"] = clientCapabilitiesJson() is { } caps ? JsonNode.Parse(caps) : null,
        }.ToJsonString();
    }

    private void Say(Session session, string text) => wire.Notify(session.Id, MessageChunk(text));

    private static JsonObject Chunk(string kind, string text) => new()
    {
        ["sessionUpdate"] = kind,
        ["content"] = new JsonObject { ["type"] = "text", ["text"] = text },
    };

    /// <summary>"CODE MESSAGE" when the response is an error, else null.</summary>
    private static string? Failure(JsonObject response) =>
        response["error"] is { } error
            ? $"{error["code"]?.ToJsonString()} {Agent.Text(error, "message")}"
            : null;

    /// <summary>Splits off the first whitespace-separated word; the rest keeps its inner spacing.</summary>
    private static (string Word, string Remainder) SplitWord(string text)
    {
        var trimmed = text.TrimStart();
        var end = trimmed.AsSpan().IndexOfAny(" \t\r\n");
        return end < 0 ? (trimmed, "") : (trimmed[..end], trimmed[end..].TrimStart());
    }
}
