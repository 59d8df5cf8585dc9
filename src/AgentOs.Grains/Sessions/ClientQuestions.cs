using System.Text;
using System.Text.Json;
using AgentOs.Acp;

namespace AgentOs.Sessions;

/// <summary>
/// A <c>session/request_permission</c> request. <see cref="PermissionPolicy.AllowAll"/> picks <c>allow_once</c> first: the
/// policy itself is the standing decision, and an agent's <c>allow_always</c> can leave lasting traces (Claude Code writes it
/// into the project's settings); else <c>allow_always</c>; else, for agents that give no kinds, the first option that is not a
/// rejection (as before policies). A rejection (<see cref="PermissionPolicy.RejectAll"/>, a timeout) is <c>reject_once</c>, else
/// the outcome <c>cancelled</c>: never a lasting <c>reject_always</c> nobody chose.
/// </summary>
internal sealed class PermissionQuestion(IReadOnlyList<PermissionOptionWire> options) : ClientQuestion
{
    public IReadOnlyList<PermissionOptionWire> Options => options;

    public override string Method => AcpMethods.SessionRequestPermission;

    public override string? ByPolicy(PermissionPolicy policy) => policy switch
    {
        PermissionPolicy.AllowAll => Result(Selected(options.FirstOrDefault(o => o.Kind == "allow_once")
            ?? options.FirstOrDefault(o => o.Kind == "allow_always")
            ?? options.FirstOrDefault(o => o.Kind is not ("reject_once" or "reject_always")))),
        PermissionPolicy.RejectAll => OnTimeout,
        _ => null,
    };

    public override string OnTimeout => Result(Selected(options.FirstOrDefault(o => o.Kind == "reject_once")));

    public override string Cancelled => Result(new PermissionOutcome { Outcome = "cancelled" });

    /// <summary>The answer that selects <paramref name="optionId"/>; <see cref="AgentOsErrorCode.InvalidArgument"/> when the agent did not offer it.</summary>
    public string Select(long requestId, string optionId, string sessionId)
    {
        if (!options.Any(o => o.OptionId == optionId))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument,
                $"The agent did not offer option '{optionId}' for permission request {requestId} of session '{sessionId}'; it offered: {string.Join(", ", options.Select(o => o.OptionId))}. The request still waits.")
            { SessionId = sessionId };
        }

        return Result(new PermissionOutcome { Outcome = "selected", OptionId = optionId });
    }

    private static PermissionOutcome Selected(PermissionOptionWire? option) =>
        option is null ? new PermissionOutcome { Outcome = "cancelled" } : new PermissionOutcome { Outcome = "selected", OptionId = option.OptionId };

    private static string Result(PermissionOutcome outcome) =>
        JsonSerializer.Serialize(new RequestPermissionResponse { Outcome = outcome }, AcpJsonContext.Default.RequestPermissionResponse);
}

/// <summary>
/// An <c>elicitation/create</c> request: the agent asks the user for input, through a form (<c>mode: "form"</c>, a restricted
/// JSON Schema in <c>requestedSchema</c>) or by sending them to a URL (<c>mode: "url"</c>). <see cref="PermissionPolicy.AllowAll"/>
/// and <see cref="PermissionPolicy.RejectAll"/> have nobody to ask: they <c>decline</c> (an agent is only offered elicitation, in
/// <c>initialize</c>, by a session with <see cref="PermissionPolicy.Ask"/>); a timeout or a cancel is <c>cancel</c>.
/// </summary>
internal sealed class ElicitationQuestion : ClientQuestion
{
    private readonly JsonElement _params;

    public ElicitationQuestion(JsonElement @params)
    {
        _params = @params.ValueKind == JsonValueKind.Object ? @params : throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "elicitation/create needs an object of params.");
        Message = Text("message") ?? throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "elicitation/create needs a message.");
        Mode = Text("mode") ?? "form";
        if (Mode == "form" && (!_params.TryGetProperty("requestedSchema", out var schema) || schema.ValueKind != JsonValueKind.Object))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "A form elicitation needs a requestedSchema object.");
        }

        if (Mode == "url" && (Text("url") is null || Text("elicitationId") is null))
        {
            throw new AgentOsException(AgentOsErrorCode.InvalidArgument, "A URL elicitation needs a url and an elicitationId.");
        }
    }

    public override string Method => AcpMethods.ElicitationCreate;

    /// <summary><c>form</c>, <c>url</c>, or a mode newer than AgentOs (kept as the agent sent it).</summary>
    public string Mode { get; }

    public string Message { get; }

    /// <summary>The form's JSON Schema, for <c>form</c>.</summary>
    public string? RequestedSchemaJson => _params.TryGetProperty("requestedSchema", out var schema) && schema.ValueKind == JsonValueKind.Object ? schema.GetRawText() : null;

    public string? Url => Text("url");

    public string? ElicitationId => Text("elicitationId");

    public string? ToolCallId => Text("toolCallId");

    public override string? ByPolicy(PermissionPolicy policy) => policy == PermissionPolicy.Ask ? null : Action("decline");

    public override string OnTimeout => Action("cancel");

    public override string Cancelled => Action("cancel");

    /// <summary>
    /// The answer for <paramref name="answer"/>. An <c>accept</c> of a form carries content that fits the requested schema: an
    /// object whose every field is one the form asks for, of its type (string, number, integer, boolean, an array of strings;
    /// one of its <c>enum</c> or <c>oneOf</c> values when it lists them), with every required field; a URL elicitation's
    /// <c>accept</c> carries none. Anything else is <see cref="AgentOsErrorCode.InvalidArgument"/> saying what, and the request still waits.
    /// </summary>
    public string Answer(long requestId, ElicitationAnswer answer, string sessionId)
    {
        var action = answer.Action switch
        {
            ElicitationAction.Accept => "accept",
            ElicitationAction.Decline => "decline",
            ElicitationAction.Cancel => "cancel",
            _ => throw Invalid($"Unknown elicitation action {(int)answer.Action}; use Accept, Decline or Cancel."),
        };
        if (answer.Action != ElicitationAction.Accept || Mode == "url")
        {
            if (!string.IsNullOrWhiteSpace(answer.ContentJson) && answer.ContentJson.Trim() != "null")
            {
                throw Invalid(Mode == "url" && answer.Action == ElicitationAction.Accept
                    ? "A URL elicitation is accepted without content: the user gives it at the URL."
                    : $"Only an accepted elicitation carries content (this answer is {action}).");
            }

            return Action(action);
        }

        using var content = Parse(answer.ContentJson);
        if (Mode == "form")
        {
            CheckAgainstSchema(content.RootElement);
        }

        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("action", "accept");
            w.WritePropertyName("content");
            content.RootElement.WriteTo(w);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());

        AgentOsException Invalid(string what) => new(AgentOsErrorCode.InvalidArgument, $"Elicitation {requestId} of session '{sessionId}': {what} The request still waits.") { SessionId = sessionId };

        JsonDocument Parse(string? json)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(string.IsNullOrWhiteSpace(json) ? "{}" : json);
            }
            catch (JsonException ex)
            {
                throw Invalid($"the content is not JSON ({ex.Message}).");
            }

            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                document.Dispose();
                throw Invalid("the content must be a JSON object of the form's fields.");
            }

            return document;
        }

        void CheckAgainstSchema(JsonElement given)
        {
            var schema = _params.GetProperty("requestedSchema");
            var properties = schema.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
            foreach (var field in given.EnumerateObject())
            {
                if (properties.ValueKind != JsonValueKind.Object || !properties.TryGetProperty(field.Name, out var property))
                {
                    throw Invalid($"the form has no field '{field.Name}'; it asks for: {string.Join(", ", FieldNames(properties))}.");
                }

                if (Mismatch(field.Value, property) is { } problem)
                {
                    throw Invalid($"field '{field.Name}' {problem}.");
                }
            }

            if (schema.TryGetProperty("required", out var required) && required.ValueKind == JsonValueKind.Array)
            {
                var missing = required.EnumerateArray().Where(r => r.ValueKind == JsonValueKind.String && !given.TryGetProperty(r.GetString()!, out _)).Select(r => r.GetString()).ToList();
                if (missing.Count > 0)
                {
                    throw Invalid($"the form requires {string.Join(", ", missing)}.");
                }
            }
        }
    }

    private static IEnumerable<string> FieldNames(JsonElement properties) =>
        properties.ValueKind == JsonValueKind.Object ? properties.EnumerateObject().Select(p => p.Name) : [];

    /// <summary>Why <paramref name="value"/> does not fit the field's <paramref name="property"/> schema; null when it does.</summary>
    private static string? Mismatch(JsonElement value, JsonElement property)
    {
        var type = property.ValueKind == JsonValueKind.Object && property.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        var fits = type switch
        {
            "string" => value.ValueKind == JsonValueKind.String,
            "number" => value.ValueKind == JsonValueKind.Number,
            "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
            "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
            "array" => value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(i => i.ValueKind == JsonValueKind.String),
            _ => value.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False
                || (value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(i => i.ValueKind == JsonValueKind.String)),
        };
        if (!fits)
        {
            return type is null ? "must be a string, a number, a boolean or an array of strings" : $"must be of type {type}";
        }

        if (type == "string" && Allowed(property) is { } allowed && !allowed.Contains(value.GetString()!))
        {
            return $"must be one of: {string.Join(", ", allowed)}";
        }

        return null;
    }

    /// <summary>The values a single-select field allows (<c>enum</c>, or the <c>const</c>s of <c>oneOf</c>); null when it lists none.</summary>
    private static List<string>? Allowed(JsonElement property)
    {
        if (property.TryGetProperty("enum", out var values) && values.ValueKind == JsonValueKind.Array)
        {
            return [.. values.EnumerateArray().Where(v => v.ValueKind == JsonValueKind.String).Select(v => v.GetString()!)];
        }

        if (property.TryGetProperty("oneOf", out var oneOf) && oneOf.ValueKind == JsonValueKind.Array)
        {
            return [.. oneOf.EnumerateArray()
                .Where(o => o.ValueKind == JsonValueKind.Object && o.TryGetProperty("const", out var c) && c.ValueKind == JsonValueKind.String)
                .Select(o => o.GetProperty("const").GetString()!)];
        }

        return null;
    }

    private string? Text(string name) => _params.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Action(string action) => $"{{\"action\":\"{action}\"}}";
}
