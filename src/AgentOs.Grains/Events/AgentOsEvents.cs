using System.Text;
using System.Text.Json;
using AgentOs.Acp;

namespace AgentOs.Events;

/// <summary>
/// AgentOs' own events of one session (<c>_agentos/*</c>, for what ACP has no message for): each one's
/// method and the shape of its params are defined here, once, and written only through here, into the
/// VM's <see cref="EventPipeline"/>. The fields are documented for clients on <see cref="AgentOsEventMethods"/>;
/// a test holds what is written against what is documented there.
/// </summary>
internal sealed class AgentOsEvents(EventPipeline events, string sessionId)
{
    /// <summary>The agent process started.</summary>
    public void AgentStart(string agentType, int pid, string command, string sandbox, string cwd, int instructionsChars) =>
        events.Append(sessionId, AgentOsEventMethods.AgentStart, Json(w =>
        {
            w.WriteString("agentType", agentType);
            w.WriteNumber("pid", pid);
            w.WriteString("command", command);
            w.WriteString("sandbox", sandbox);
            w.WriteString("cwd", cwd);
            w.WriteNumber("instructionsChars", instructionsChars);
        }));

    /// <summary>The ACP session of a new AgentOs session was set up (<paramref name="restore"/> is <c>new</c>).</summary>
    public void SessionStart(string acpSessionId, string restore, Implementation? agentInfo) =>
        events.Append(sessionId, AgentOsEventMethods.SessionStart, Json(w =>
        {
            w.WriteString("acpSessionId", acpSessionId);
            w.WriteString("restore", restore);
            WriteAgentInfo(w, agentInfo);
        }));

    /// <summary>A suspended session was restored by <paramref name="restore"/> (<c>load</c>, <c>resume</c> or <c>context</c>).</summary>
    public void Resume(string acpSessionId, string restore, int replayedNotifications, int contextChars, Implementation? agentInfo) =>
        events.Append(sessionId, AgentOsEventMethods.Resume, Json(w =>
        {
            w.WriteString("acpSessionId", acpSessionId);
            w.WriteString("restore", restore);
            w.WriteNumber("replayedNotifications", replayedNotifications);
            w.WriteNumber("contextChars", contextChars);
            WriteAgentInfo(w, agentInfo);
        }));

    /// <summary>A turn starts with this prompt: the ACP <c>session/prompt</c> params as sent to the agent.</summary>
    public void Prompt(PromptRequest prompt) =>
        events.Append(sessionId, AgentOsEventMethods.Prompt, JsonSerializer.Serialize(prompt, AcpJsonContext.Default.PromptRequest));

    /// <summary>A prompt waits behind the running turn, <paramref name="position"/> 1 being the next to run.</summary>
    public void PromptQueued(int position, IReadOnlyList<ContentBlock> prompt) =>
        events.Append(sessionId, AgentOsEventMethods.PromptQueued, Json(w =>
        {
            w.WriteNumber("position", position);
            w.WritePropertyName("prompt");
            JsonSerializer.Serialize(w, prompt, AcpJsonContext.Default.IReadOnlyListContentBlock);
        }));

    /// <summary>The agent ended the turn; completes with the event's seq once committed.</summary>
    public Task<long> TurnEndAsync(string stopReason, string? reason = null, UsageWire? usage = null) =>
        events.AppendAndWaitAsync(sessionId, AgentOsEventMethods.TurnEnd, Json(w =>
        {
            w.WriteString("stopReason", stopReason);
            if (reason is not null)
            {
                w.WriteString("reason", reason);
            }

            if (usage is not null)
            {
                w.WritePropertyName("usage");
                JsonSerializer.Serialize(w, usage, AcpJsonContext.Default.UsageWire);
            }
        }));

    /// <summary>The turn failed (the agent exited, timed out or refused the prompt).</summary>
    public Task<long> TurnFailedAsync(AgentOsException error) =>
        events.AppendAndWaitAsync(sessionId, AgentOsEventMethods.TurnEnd, Json(w =>
        {
            w.WriteString("stopReason", "error");
            w.WriteString("error", error.Message);
            w.WriteString("code", error.Code.ToString());
        }));

    /// <summary>AgentOs ended a cancelled turn the agent had not ended within <paramref name="grace"/>.</summary>
    public Task<long> TurnEndForcedAsync(TimeSpan grace, string? reason = null) =>
        events.AppendAndWaitAsync(sessionId, AgentOsEventMethods.TurnEnd, Json(w =>
        {
            w.WriteString("stopReason", "cancelled");
            w.WriteBoolean("forced", true);
            w.WriteNumber("graceMs", (long)grace.TotalMilliseconds);
            if (reason is not null)
            {
                w.WriteString("reason", reason);
            }
        }));

    /// <summary>AgentOs restarts the agent for <paramref name="reason"/>.</summary>
    public Task<long> AgentRestartAsync(string reason, int pid) =>
        events.AppendAndWaitAsync(sessionId, AgentOsEventMethods.AgentRestart, Json(w =>
        {
            w.WriteString("reason", reason);
            w.WriteNumber("pid", pid);
        }));

    /// <summary>The agent process exited; <paramref name="expected"/> when AgentOs stopped it.</summary>
    public Task<long> AgentExitAsync(int exitCode, string stderrTail, bool expected, string? reason = null, long? limit = null) =>
        events.AppendAndWaitAsync(sessionId, AgentOsEventMethods.AgentExit, Json(w =>
        {
            w.WriteNumber("exitCode", exitCode);
            if (exitCode > 128)
            {
                w.WriteNumber("signal", exitCode - 128);
            }

            if (reason is not null)
            {
                w.WriteString("reason", reason);
            }

            if (limit is { } bytes)
            {
                w.WriteNumber("limit", bytes);
            }

            w.WriteString("stderrTail", stderrTail);
            w.WriteBoolean("expected", expected);
        }));

    /// <summary>The agent wrote a line that is not ACP JSON (the <paramref name="count"/>th).</summary>
    public void MalformedOutput(string reason, string preview, int count) =>
        events.Append(sessionId, AgentOsEventMethods.MalformedOutput, Json(w =>
        {
            w.WriteString("reason", reason);
            w.WriteString("preview", preview);
            w.WriteNumber("count", count);
        }));

    /// <summary>AgentOs answered the agent's request recorded with seq <paramref name="requestSeq"/>.</summary>
    /// <param name="requestSeq">The seq of the request's event.</param>
    /// <param name="requestId">Its JSON-RPC id.</param>
    /// <param name="method">Its method.</param>
    /// <param name="reply">The answer the agent got.</param>
    /// <param name="reason">Who decided a permission request or an elicitation, or null.</param>
    /// <param name="recordResult">
    /// Writes the fields of <c>result</c> as recorded, when that is not the reply's whole: a file's content read through
    /// fs/read_text_file, a terminal's output, each bounded by <see cref="RecordedFile"/>. Null: the reply's result as it is.
    /// </param>
    public void ClientResponse(long requestSeq, JsonElement requestId, string method, AcpReply reply, string? reason, Action<Utf8JsonWriter>? recordResult = null) =>
        events.Append(sessionId, AgentOsEventMethods.ClientResponse, Json(w =>
        {
            w.WriteNumber("requestSeq", requestSeq);
            w.WritePropertyName("requestId");
            requestId.WriteTo(w);
            w.WriteString("method", method);
            if (reply.IsError)
            {
                w.WriteStartObject("error");
                w.WriteNumber("code", reply.ErrorCode);
                w.WriteString("message", reply.ErrorMessage);
                w.WriteEndObject();
            }
            else if (recordResult is not null)
            {
                w.WriteStartObject("result");
                recordResult(w);
                w.WriteEndObject();
            }
            else
            {
                w.WritePropertyName("result");
                w.WriteRawValue(reply.ResultJson!);
            }

            if (reason is not null)
            {
                w.WriteString("reason", reason);
            }
        }));

    /// <summary>
    /// A terminal's command ended (<paramref name="reason"/>: <c>exited</c> by itself, or killed because of <c>terminal/kill</c>,
    /// <c>terminal/release</c>, the session's stop or the agent's exit): its exit code or signal and its output, the last 64 KiB
    /// of what it kept (<see cref="RecordedFile"/>).
    /// </summary>
    public Task<long> TerminalExitAsync(string terminalId, uint? exitCode, string? signal, string reason, string output, bool truncated, long bytesWritten) =>
        events.AppendAndWaitAsync(sessionId, AgentOsEventMethods.TerminalExit, Json(w =>
        {
            w.WriteString("terminalId", terminalId);
            if (exitCode is { } code)
            {
                w.WriteNumber("exitCode", code);
            }

            if (signal is not null)
            {
                w.WriteString("signal", signal);
            }

            w.WriteString("reason", reason);
            RecordedFile.WriteTail(w, "output", output);
            w.WriteBoolean("truncated", truncated);
            w.WriteNumber("bytesWritten", bytesWritten);
        }));

    private static void WriteAgentInfo(Utf8JsonWriter w, Implementation? agentInfo)
    {
        w.WritePropertyName("agentInfo");
        JsonSerializer.Serialize(w, agentInfo, AcpJsonContext.Default.Implementation);
    }

    /// <summary>The agent met a resource limit during a turn and lives on: <c>processes</c> (forks refused) or <c>memory</c> (processes the OOM killer took).</summary>
    public void LimitMet(string limit, long max, long count) =>
        events.Append(sessionId, AgentOsEventMethods.Limit, Json(w =>
        {
            w.WriteString("limit", limit);
            w.WriteNumber("max", max);
            w.WriteNumber("count", count);
        }));

    /// <summary>
    /// The marker of events that could not be stored, as the pipeline's writer loop puts it first in a batch (it holds
    /// the seq counter, so it makes the row; what the row says is defined here, with the others).
    /// </summary>
    public static (string Method, byte[] Params) EventsLost(EventsLost lost) =>
        (AgentOsEventMethods.EventsLost, Encoding.UTF8.GetBytes(Json(w =>
        {
            w.WriteNumber("count", lost.Count);
            w.WriteNumber("firstLostAtMs", lost.FirstLostAtMs);
            w.WriteString("reason", lost.Reason);
        })));

    /// <summary>
    /// An agent's message as it is stored: itself when its params fit in <paramref name="maxBytes"/>
    /// (<see cref="AgentOsOptions.MaxEventBytes"/>), else an <c>_agentos/truncated</c> marker in its place with its
    /// method, size, SHA-256 and first 64 KiB, so one message can never make a transcript unreadable.
    /// </summary>
    public static (string Method, byte[] Params) Bounded(string method, byte[] paramsUtf8, long maxBytes)
    {
        if (paramsUtf8.Length <= maxBytes)
        {
            return (method, paramsUtf8);
        }

        return (AgentOsEventMethods.Truncated, Encoding.UTF8.GetBytes(Json(w =>
        {
            w.WriteString("method", method);
            w.WriteNumber("bytes", paramsUtf8.Length);
            w.WriteString("sha256", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(paramsUtf8)));
            w.WriteNumber("limit", maxBytes);
            w.WriteString("preview", RecordedFile.Utf8Prefix(paramsUtf8, RecordedFile.MaxBytes));
        })));
    }

    /// <summary>One JSON object written by <paramref name="body"/>.</summary>
    private static string Json(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length);
    }
}
